"""Topics: what a networking post is about.

- taxonomy.py: the topics of models/topics.yaml (no NumPy: the publisher imports it);
- lexicon.py: the field's vocabulary, each term with its kind, topic and other senses;
- keywords.py: the taxonomy's keywords as one index, and the strong ones;
- reading.py: what the models read of a post (tokens, lexicon finds, concept tokens);
- model.py: the topic model that tags posts;
- corrections.py: the site's own topic corrections.
"""
