"""GPT-SoVITS inference on MindSpore: text frontend, models, weight loading and the synthesis pipeline.

This package holds no web code; the service in `tts_service/` calls into it.
"""
