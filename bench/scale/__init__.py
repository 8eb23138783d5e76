"""Issue 7, part 5: the four reads on a small and on a national-size database."""
