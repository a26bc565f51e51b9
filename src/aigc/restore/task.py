"""The image-restoration task (strings only: nothing heavy is imported here)."""

from aigc.core.task import Task

TASK = Task(
    name="restore",
    summary="image restoration: super-resolution, denoising, inpainting, style transfer",
    train_example="aigc train restore --kind sr --arch espcn --scale 2 --data t91 --out runs/espcn-x2",
    architectures={
        "espcn": "aigc.restore.sr:ESPCNObjective",
        "srresnet": "aigc.restore.sr:SRResNetObjective",
        "srgan": "aigc.restore.srgan:SRGANObjective",
        "dncnn": "aigc.restore.denoise:DnCNNObjective",
        "dae": "aigc.restore.denoise:DAEObjective",
        "pconv": "aigc.restore.inpaint:PConvObjective",
        "johnson": "aigc.restore.style:JohnsonObjective",
    },
    pipeline="aigc.restore.pipeline:RestorePipeline",
    settings="aigc.restore.train:RestoreSettings",
    train="aigc.restore.train:train",
    train_parser="aigc.restore.cli:add_train_args",
    commands={
        "upscale": ("upscale an image with a super-resolution model", "aigc.restore.cli:add_upscale"),
        "denoise": ("denoise an image with a denoising model", "aigc.restore.cli:add_denoise"),
        "stylize": ("style transfer (Gatys optimisation, or a trained feed-forward --model)",
                    "aigc.restore.cli:add_stylize"),
    },
    model_commands={"inpaint": ("fill a masked region of an image with a trained model",
                                "aigc.restore.cli:inpaint_parser")},
    media=("png",),
    demo="aigc.restore.demo:run",
    demo_seconds=40,
    smoke_train=("--kind", "denoise", "--arch", "dncnn", "--depth", "3", "--features", "4", "--data", "{images}",
                 "--patch", "8", "--patches", "16", "--steps", "2", "--batch-size", "4"),
    smoke_run=("denoise", "{model}", "{image}", "{out}/clean.png"),
    quality="aigc.restore.quality:restore_rmse",
)
