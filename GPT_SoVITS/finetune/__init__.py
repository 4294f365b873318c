"""Few-shot fine-tuning from the command line: `python -m GPT_SoVITS.finetune --help` (cli.py), and
`python -m GPT_SoVITS.finetune.slice` to cut long recordings into clips first."""
