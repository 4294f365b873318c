"""Audio in front of the models: clip loading (`io`), the SoVITS linear spectrogram (`spectrogram`),
torchaudio-equal resampling (`sv_resample`) and Kaldi filterbanks (`fbank`) for speaker verification."""
