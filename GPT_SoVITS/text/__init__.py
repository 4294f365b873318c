"""Text frontend: raw text -> normalised text -> phoneme symbols -> phoneme ids (the reference's `text/`).

Entry points (imported lazily so that `import GPT_SoVITS.text` stays cheap):
- `symbols.cleaned_text_to_sequence(phones, version)`: symbols -> ids.
- `cleaner.clean_text(text, language, version)`: one language segment -> (phones, word2ph, norm_text).
- `routing.get_phones(text, mode, version)`: the reference's get_phones_and_bert without BERT.
- `cuts.cut_text(text, how_to_cut, mode)`: the per-sentence pieces get_tts_wav synthesises.
- `python -m GPT_SoVITS.text phones|cut`: the same on JSON lines.
"""
from .symbols import cleaned_text_to_sequence

__all__ = ["cleaned_text_to_sequence"]
