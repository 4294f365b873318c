"""The web service: FastAPI app, settings, storage and the seam to GPT_SoVITS.pipeline."""

__version__ = "0.2.0"
