"""SMS length and part counting, at the carrier limits for GSM-7 and UCS-2."""

from __future__ import annotations

from notify_service.sms.segments import SmsEncoding, SmsLength, measure

ARABIC = "ب"


def test_empty_text_is_one_gsm7_part() -> None:
    """An empty body still costs one message."""
    assert measure("") == SmsLength(encoding=SmsEncoding.GSM7, characters=0, parts=1)


def test_gsm7_160_characters_is_one_part() -> None:
    """160 septets fill exactly one single-part GSM-7 message."""
    assert measure("a" * 160) == SmsLength(encoding=SmsEncoding.GSM7, characters=160, parts=1)


def test_gsm7_161_characters_is_two_parts() -> None:
    """One septet over the single-part limit makes a two-part message."""
    assert measure("a" * 161).parts == 2


def test_gsm7_306_characters_is_two_parts() -> None:
    """Two multipart GSM-7 parts hold 153 septets each."""
    assert measure("a" * 306).parts == 2


def test_gsm7_307_characters_is_three_parts() -> None:
    """One septet over two full parts needs a third."""
    assert measure("a" * 307).parts == 3


def test_gsm7_extension_characters_count_double() -> None:
    """Each extension-table character costs an escape plus its code."""
    length = measure("^{}\\[~]|€")
    assert length.encoding is SmsEncoding.GSM7
    assert length.characters == 18


def test_gsm7_extension_characters_push_over_single_limit() -> None:
    """80 euro signs are 160 septets, one more is 162 and two parts."""
    assert measure("€" * 80).parts == 1
    assert measure("€" * 81).parts == 2


def test_gsm7_escape_pair_is_not_split_across_parts() -> None:
    """An extension character straddling a part boundary moves whole into the next part."""
    text = "a" * 152 + "€" + "a" * 152
    length = measure(text)
    assert length.characters == 306
    assert length.parts == 3


def test_arabic_70_characters_is_one_part() -> None:
    """70 UCS-2 code units fill exactly one single-part message."""
    assert measure(ARABIC * 70) == SmsLength(encoding=SmsEncoding.UCS2, characters=70, parts=1)


def test_arabic_71_characters_is_two_parts() -> None:
    """One code unit over the UCS-2 single-part limit makes two parts."""
    assert measure(ARABIC * 71).parts == 2


def test_arabic_134_characters_is_two_parts() -> None:
    """Two multipart UCS-2 parts hold 67 code units each."""
    assert measure(ARABIC * 134).parts == 2


def test_arabic_135_characters_is_three_parts() -> None:
    """One code unit over two full UCS-2 parts needs a third."""
    assert measure(ARABIC * 135).parts == 3


def test_single_arabic_character_forces_ucs2() -> None:
    """One character outside GSM 03.38 switches the whole body to UCS-2."""
    length = measure("Your code is 123456 " + ARABIC)
    assert length.encoding is SmsEncoding.UCS2
    assert length.characters == 21


def test_single_emoji_forces_ucs2_and_counts_two_code_units() -> None:
    """An emoji is outside GSM 03.38 and is a surrogate pair in UTF-16."""
    length = measure("Done \U0001f600")
    assert length.encoding is SmsEncoding.UCS2
    assert length.characters == 7


def test_gsm7_accented_latin_stays_gsm7() -> None:
    """Accented letters in the GSM basic table do not force UCS-2."""
    assert measure("é à ñ ü Ç £ ¥ §").encoding is SmsEncoding.GSM7
