"""SMS bodies for residents: bilingual templates and GSM-7/UCS-2 length and part counting."""
