"""The reference's HTTP interfaces, for clients written against them that cannot be changed.

GPT-SoVITS ships two web APIs: `api_v2.py` (GET/POST /tts, /set_gpt_weights, /set_sovits_weights,
/set_refer_audio, /control) and the older `api.py` (GET/POST /, /change_refer, /set_model, /control).
Bots, VTuber front-ends and dubbing tools (AstrBot, Open-LLM-VTuber, pyvideotrans, VideoLingo, the
MaiBot TTS plugins, ...) call those routes with their parameter names, defaults and spellings, and read
their answers: audio, or HTTP 400 with a small JSON object. This package turns such requests into the
service's own synthesis (same voices, limits and back-pressure as /synthesize):

  params.py   the two request shapes, read leniently the way those clients send them
  voices.py   which clip a request means: a voice model id, or a file in the allowed folders
  audio.py    the answer: whole audio, or api_v2's stream (a WAV header, then raw PCM)
  errors.py   errors as the reference answers them, never the service's envelope
The routes themselves are in routers/api_v2.py and routers/api_v1.py.
"""
