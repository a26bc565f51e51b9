"""The text task (strings only: nothing heavy is imported here)."""

from aigc.core.task import Task

TASK = Task(
    name="text",
    summary="language models (GPT, LSTM) on text or dialogues",
    train_example="aigc train text --arch gpt --data input.txt --tokenizer char --context 64 --layers 4 "
                  "--heads 4 --embed 128 --steps 2000 --schedule cosine --warmup 100 --grad-clip 1 --out runs/char-gpt",
    architectures={
        "gpt": "aigc.text.objective:GPTObjective",
        "lstm": "aigc.text.objective:LSTMObjective",
    },
    pipeline="aigc.text.pipeline:TextPipeline",
    settings="aigc.text.train:TextSettings",
    train="aigc.text.train:train",
    train_parser="aigc.text.cli:add_train_args",
    generate_parser="aigc.text.cli:generate_parser",
    commands={
        "chat": ("talk to a text model (reads stdin when it is not a terminal)", "aigc.text.cli:add_chat"),
        "import": ("convert a local Hugging Face GPT-2 directory to an aigc model", "aigc.text.cli:add_import"),
    },
    evaluators={"text": ("BLEU, self-BLEU, distinct-n of generated text; perplexity of a model",
                         "aigc.text.eval_cli:add_eval_text")},
    media=("txt", "json"),
    demo="aigc.text.demo:run",
    demo_seconds=50,
    smoke_train=("--data", "builtin:pydoc", "--context", "16", "--layers", "1", "--heads", "2", "--embed", "16",
                 "--steps", "2", "--batch-size", "4"),
    smoke_run=("generate", "{model}", "--prompt", "The", "--max-tokens", "5", "--out", "{out}/text.txt"),
    quality="aigc.text.evaluate:perplexity#perplexity",
)
