"""Screening: keep English networking posts; drop other languages, spam and off-topic posts.

- text.py: the text a post is screened and tagged on, built in one place;
- language.py: script, function words, then langdetect;
- spam.py: spam signals read beside the networking evidence;
- verdict.py: the Screener, which decides in that order with the networking model and the
  feed's record, and the Verdict it gives.

Nothing is imported here, so that a module needing only the text (parse.py) does not load
the models.
"""
