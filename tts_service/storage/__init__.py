"""On-disk state: id rules, atomic JSON stores, uploaded files, voice models and categories."""
