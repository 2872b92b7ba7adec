"""DCGAN (Radford et al. 2015) at 64x64 on the embedded procedural_shapes dataset.

    python -m gan.main --config=configs/dcgan.py --workdir=runs/dcgan

Radford et al.'s networks and update at half their width and batch, made class-conditional
on classes found from the images alone: when the run starts, the training images' outlines
(their centred, scaled edge maps and angular harmonics) are clustered into 8 groups (k-means,
gan/models/outline_clusters.py; no label is read; on the embedded data one shape each), and
G draws, D judges, each image with its cluster (class-conditional BatchNorm in G, a
projection term in D). D is layer-normalised, with a lazy R1 penalty on real images and twice
G's learning rate. A GAN of z alone blends the kinds of object it cannot keep apart (65%
of its samples recognisable at best: configs/dcgan_unconditional.py). 18,000 steps (5.8
epochs of the 100,000 images, 42 to 80 minutes on 2 CPU cores), sampled from an exponential
moving average of G's weights, scoring recognisability as it goes; configs/dcgan_paper.py
keeps the paper's exact recipe. docs/experiments/default_recipe.md has the runs behind each
choice. Override any key on the command line,
e.g. `--config.num_train_steps=30000 --config.learning_rate=1e-4`.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """The default DCGAN recipe."""
    config = ml_collections.ConfigDict()

    # Data.
    # A tfds name (optionally name/config:version; `procedural_shapes` is embedded and generated
    # locally on first use, any other is downloaded by tfds), `folder:/path/to/images` (JPEG,
    # PNG, BMP, GIF, WebP, searched recursively) or `npz:/path/file.npz` ((N, H, W, C) uint8).
    config.dataset = "procedural_shapes"
    # tfds data directory; unset means tfds's default ($TFDS_DATA_DIR or ~/tensorflow_datasets).
    config.data_dir = ml_collections.config_dict.placeholder(str)
    # tfds split to train on (tfds slicing works: "train[:50%]").
    config.split = "train"
    # tfds feature holding the image.
    config.image_key = "image"
    # Side of the centred square crop in source pixels before resizing; 0 takes the largest
    # square (CelebA's customary crop is 108).
    config.crop_size = 0
    # Side of the square training images, in pixels: 32, 64 or 128.
    config.image_size = 64
    # 3 for RGB, 1 for grayscale (images are converted on decoding).
    config.num_channels = 3
    # Decoded images are kept in memory when they take at most this many GiB (100k 64x64x3
    # images: 1.2 GiB), making every epoch an exact permutation; larger datasets are streamed.
    config.cache_max_gb = 8.0
    # Examples in the shuffle buffer of streamed datasets (encoded, so large buffers are cheap).
    config.shuffle_buffer_size = 20_000

    # Model.
    # Length of the noise vector z.
    config.latent_dim = 100
    # Generator width: channels of its last hidden layer (the first has ngf * 2^(stages-1)).
    # Half the paper's 64 (configs/dcgan_paper.py): a step costs a third as much, and on the
    # embedded data the narrower networks learn as much per image (docs/recipes.md), so a
    # fixed wall-clock budget trains nearly three times as many images.
    config.ngf = 32
    # Discriminator width: channels of its first conv (doubling at each stride-2 stage).
    config.ndf = 32
    # Architecture of both networks: "dcgan" (Radford et al.) or "resnet" (the SNGAN ResNet
    # generator and discriminator of Miyato et al. 2018, for 32 and 64 px; widths ngf and ndf).
    config.model = "dcgan"
    # Spectral normalisation of every layer of D (Miyato et al. 2018); the "resnet" D always has it.
    config.d_spectral_norm = False
    # Normalisation of D's hidden layers in the "dcgan" model: "batch", "layer" (per image, as
    # WGAN-GP and R1 want) or "none". Layer, for R1 (below): with it the default passes the
    # recognisability measure's 0.5 at step 5,000 rather than 7,000 and draws the ring, the
    # star and the plus more exactly than the BatchNorm D without R1
    # (docs/experiments/default_recipe.md).
    config.d_norm = "layer"
    # Images D judges at once, stacked along the channels (PacGAN, Lin et al. 2018), with one
    # logit per pack, in the "dcgan" model: D then sees how often kinds of image come together,
    # which penalises a G that drops some; and beyond its first layer it works on 1/m of the
    # inputs. 1: image by image. batch_size must be a multiple of it on each device. 2 in the
    # unconditional recipe (its step 1.5x faster for as many recognisable samples). Not with a
    # conditional D (num_classes), which scores each image with its own class.
    config.d_packing = 1
    # BatchNorm scales and offsets of G computed from z by a small MLP per layer
    # ("self-modulation", Chen et al. 2019), so that z acts on every layer, not only the first.
    config.g_self_modulation = False
    # Per-pixel Gaussian noise after each of G's upsampling layers, with a learned strength per
    # channel (StyleGAN's noise inputs): a source for detail such as film grain that z cannot hold.
    config.g_pixel_noise = False
    # Classes of a class-conditional GAN ("dcgan" model): G's BatchNorm scales and offsets and a
    # projection term of D are looked up per class. 0 trains unconditionally. 8 clusters of the
    # images' outlines (label_key below): on the embedded data, one per kind of outline.
    config.num_classes = 8
    # Categories of a categorical latent code G draws each image from, uniformly, beside z
    # (InfoGAN's categorical code): G's BatchNorm scales and offsets are looked up per code as
    # a class-conditional G's are per class. A continuous z cannot map onto separate kinds of
    # object (shapes) without also drawing blends between them; a discrete code lets G keep
    # them apart. 0: z alone.
    config.latent_codes = 0
    # Weight lambda of InfoGAN's mutual-information term (Chen et al. 2016; 1 in the paper for
    # a categorical code): a head Q on D's last feature map predicts each generated image's
    # code, and G and Q both minimise lambda x its cross-entropy, so G must draw the codes
    # apart. 0: no term, and nothing makes G use the code (D never sees it).
    config.latent_code_weight = 0.0
    # What Q reads: "features", D's last feature map (InfoGAN's shared head; on the embedded
    # data G then puts the code in the background's tint), or "outline", the image's edges
    # alone, pooled over positions and randomly rescaled, by a small network of its own
    # (gan/models/code_reader.py), with colour, background, position and size hidden from it;
    # on the embedded data G then draws each code as a family of colours with its own interior
    # texture, edges Q reads, still not as a shape (docs/experiments/default_recipe.md).
    config.latent_code_view = "features"
    # Self-conditioning (Liu et al. 2020): this many clusters of D's features of real images
    # serve as the classes of a conditional GAN (class-conditional BatchNorm in G, a projection
    # term in D), found and followed by online k-means as D trains
    # (gan/models/self_conditioning.py); at most batch_size. 0: unconditional.
    config.self_conditioning_clusters = 0
    # Where each image's class comes from when num_classes > 0: a tfds ClassLabel feature
    # ("label" in most tfds datasets; procedural_shapes has "shape", "color", "size", "x", "y",
    # "background"; configs/cdcgan.py trains on "shape"), or "outline_clusters", k-means
    # clusters of the images' outlines found when the run starts, reading no label (any
    # dataset held in memory, image folders too; gan/models/outline_clusters.py). Sampling
    # draws found classes as often as they hold training images.
    config.label_key = "outline_clusters"
    # Weight of the logarithms of the outline's angular harmonics (2- to 8-fold symmetry,
    # gan/models/outline_clusters.py) beside its unit-norm map in the descriptor the outline
    # clusters are found from. 0.3: on the embedded data each of the 8 classes holds one shape
    # (99-100%; 0.2 to 0.4 do as well), at every k-means seed tried, and this recipe ends at
    # 89.2 and 89.1% recognisable over two seeds, every shape at least 8.7% of those. 0: the map
    # alone, with which circles and hexagons share a class and the hexagon falls to 6.6% of the
    # recognisable (docs/experiments/default_recipe.md, "Log harmonics").
    config.outline_harmonics = 0.3
    # Operand type of the DCGAN's stride-2 convolutions (matrix products accumulated in float32):
    # "bfloat16" (mixed precision), which CPUs with bf16 matrix units (AMX, AVX512-BF16) and GPUs
    # run much faster, or "float32". Parameters, BatchNorm and the optimizer stay float32.
    # README "Performance" gives the speed and the measured effect on the step's numbers.
    config.compute_dtype = "bfloat16"

    # Objective and regularisers (see gan/training/losses.py and gan/training/regularizers.py).
    # "non_saturating", "minimax", "hinge", "wgan_gp" (needs gp_weight > 0), "lsgan" or
    # "relativistic" (RpGAN: each fake scored against a real image, Huang et al. 2024).
    config.loss = "non_saturating"
    # One-sided label smoothing: real images get the target 1 - label_smoothing (BCE losses).
    config.label_smoothing = 0.0
    # Discriminator updates per generator update; each reads its own batch of batch_size images.
    config.n_critic = 1
    # Weight lambda of the WGAN-GP gradient penalty (Gulrajani et al. use 10); 0 disables it.
    config.gp_weight = 0.0
    # Weight gamma of the R1 penalty gamma/2 * E||grad D(x)||^2 on real images; 0 disables it.
    # 0.1 on the layer-normalised D, as in the unconditional recipe (there 59.0% recognisable
    # at step 18,000, against 47.8% for the BatchNorm D without it).
    config.r1_gamma = 0.1
    # R1 weight reached at the last step, along half a cosine from r1_gamma (R3GAN anneals it
    # tenfold: a strong penalty steadies the early game, a weak one lets D judge fine detail
    # later); -1 keeps r1_gamma throughout. Needs num_train_steps > 0.
    config.r1_gamma_final = -1.0
    # R2: R1's penalty, with its weight and at its steps, also on generated images (Mescheder
    # et al. 2018; R3GAN, Huang et al. 2024, pairs R1 and R2 with the relativistic loss).
    config.r2_penalty = False
    # Lazy R1 (StyleGAN2): computed every r1_interval steps with its weight times r1_interval.
    # Every 4th step: a step with R1 does about 1.6 times the work of one without it.
    config.r1_interval = 4
    # Decay of the exponential moving average of G's weights used for sampling (e.g. 0.999);
    # 0 keeps no average and samples from the trained weights. The default samples from the
    # average over ~1,000 steps: the trained weights' samples swing from step to step (9%, then
    # 6% recognisable at steps 2,000 and 3,000), the average's are smoother and sharper (12%
    # and 18%; docs/experiments/default_recipe.md). Training itself is unchanged.
    config.ema_decay = 0.999
    # DiffAugment transforms applied to real and generated images before D, comma-separated
    # from "color", "translation", "cutout"; "" applies none.
    config.diffaugment = ""

    # Optimisation.
    # Global batch (all devices, all processes); must divide by the number of devices. Kept
    # as is on more devices, training gives the same numbers as on one; grown k-fold, start
    # from learning_rate * sqrt(k) (Adam's square-root rule, see the README's Scaling out).
    # 32 rather than the paper's 64: the same images per second on a CPU, twice the updates.
    config.batch_size = 32
    # Passes over the training split.
    config.num_epochs = 5
    # Steps to train; > 0 overrides num_epochs, -1 derives it from num_epochs. 18,000 steps of
    # 32 (5.8 epochs) is `make train`'s budget: 42 minutes on a 2-core AMD EPYC Zen 5, about
    # 80 on a Zen 4.
    config.num_train_steps = 18_000
    # Adam learning rate of G, and of D unless d_learning_rate is set.
    config.learning_rate = 2e-4
    # Adam learning rate of D (two time-scale update rule, Heusel et al. 2017); -1: learning_rate.
    # Twice G's: the unconditional recipe's packing D then passes the recognisability
    # measure's 0.5 in about 7,000 steps rather than 13,000 (docs/experiments/default_recipe.md).
    config.d_learning_rate = 4e-4
    # Fraction of both learning rates reached at the last step, along half a cosine (R3GAN
    # anneals 2e-4 to 5e-5, 0.25); 1.0 keeps them constant. Needs num_train_steps > 0.
    config.learning_rate_decay = 1.0
    # Adam beta1, for both networks (DCGAN's 0.5).
    config.beta1 = 0.5
    # Adam beta2, for both networks (WGAN-GP and SNGAN use 0.9).
    config.beta2 = 0.999
    # Seeds initialisation, noise, data order and the sample-grid noise.
    config.seed = 0

    # Placement of the train state on the devices (see gan/parallel.py).
    # "replicated": a full copy of parameters, BatchNorm statistics and Adam moments on every
    # device (pure data parallelism, fastest while it fits). "fsdp": arrays of at least
    # fsdp_min_size_mb are split along the 'data' axis, so each device holds 1/N of them; for
    # networks too large to replicate. Training gives the same numbers either way.
    config.state_sharding = "replicated"
    # Under "fsdp", arrays smaller than this many MiB stay replicated (not worth gathering).
    config.fsdp_min_size_mb = 1.0

    # Logging and checkpoints, in steps.
    # Console/TensorBoard trace row (also written at every epoch end).
    config.log_every_steps = 100
    # Fixed-noise 8x8 sample grid (PNG in WORKDIR/samples and TensorBoard).
    config.sample_every_steps = 1000
    # Checkpoint to WORKDIR/checkpoints (also written at the end of training).
    config.checkpoint_every_steps = 1000
    # Checkpoints kept on disk (oldest deleted first).
    config.keep_checkpoints = 3
    # A run is marked diverged (a warning; diverged=1 in trace.csv) after this many trace rows
    # in a row where D's loss is ~0, D is always right and G's gradient is ~0; 0 never.
    config.divergence_reports = 5
    # Whether a diverged run also stops (with the last good checkpoint kept).
    config.stop_on_divergence = False

    # Evaluation during training (`gan.evaluation`; README "Evaluation").
    # Steps between evaluations (and one at the last step); 0 turns them off. Feature metrics
    # (FID...) on procedural_shapes need its evaluator
    # (`python -m gan.train_shapes_evaluator`), elsewhere the FID Inception weights.
    # The default scores recognisability (docs/recognisability.md), which needs no network, on
    # 1,000 samples every 1,000 steps (about 18 s each on 2 CPU cores).
    config.eval_every_steps = 1000
    # Generated images per evaluation, and real reference images.
    config.num_eval_samples = 1000
    # Comma-separated metrics (recognisable, fid, kid, is, pr, coverage); the first ranks the
    # checkpoint kept in WORKDIR/best_checkpoint.
    config.eval_metrics = "recognisable"
    return config
