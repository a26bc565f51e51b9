"""The image-generation task (strings only: nothing heavy is imported here)."""

from aigc.core.task import Task

TASK = Task(
    name="image-gen",
    summary="image generators (GANs, VAE, diffusion, a per-class Gaussian in PCA space)",
    train_example="aigc train image-gen --arch dcgan --data digits --image-size 16 --steps 1500 --out runs/dcgan",
    architectures={
        "dcgan": "aigc.image_gen.dcgan:DCGANObjective",
        "vae": "aigc.image_gen.vae:VAEObjective",
        "wgan-gp": "aigc.image_gen.wgan:WGANGPObjective",
        "sngan": "aigc.image_gen.sngan:SNGANObjective",
        "lsgan": "aigc.image_gen.lsgan:LSGANObjective",
        "cgan": "aigc.image_gen.cgan:CGANObjective",
        "ddpm": "aigc.image_gen.diffusion.ddpm:DDPMObjective",
        "gauss": "aigc.image_gen.gauss:GaussObjective",
    },
    pipeline="aigc.image_gen.pipeline:ImageGenPipeline",
    settings="aigc.image_gen.train:ImageGenSettings",
    train="aigc.image_gen.train:train",
    train_parser="aigc.image_gen.cli:add_train_args",
    generate_parser="aigc.image_gen.cli:generate_parser",
    model_commands={"inpaint": ("fill a masked region of an image with a trained model",
                               "aigc.image_gen.cli_options:inpaint_parser")},
    media=("png",),
    demo="aigc.image_gen.demo:run",
    demo_seconds=136,
    smoke_train=("--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16", "--latent-dim", "4",
                 "--steps", "2", "--batch-size", "8"),
    smoke_run=("generate", "{model}", "--n", "4", "--out", "{out}/samples.png"),
)
