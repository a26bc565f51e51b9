"""Metrics you can trust: one metric per module, each a functional twin (the maths) plus a class
that only accumulates (``update``, ``merge``, ``reset``, ``compute``).

Images (over a pluggable feature extractor, see ``aigc.metrics.features``): FID, KID, Inception
Score, precision/recall, class coverage. Restoration: PSNR, SSIM (Y channel or RGB). Text:
perplexity, BLEU, self-BLEU, distinct-n. Names are imported lazily (no import-time cost).
"""

from __future__ import annotations

from aigc.core.lazy import lazy_exports

# public name -> submodule holding it (a plain dict that grep can read)
_EXPORTS: dict[str, str] = {
    "frechet_distance": "image_fid", "frechet_distance_from_stats": "image_fid",
    "gaussian_stats": "image_fid", "FID": "image_fid",
    "kernel_inception_distance": "image_kid", "KID": "image_kid",
    "inception_score": "image_is", "InceptionScore": "image_is",
    "precision_recall": "image_pr", "PrecisionRecall": "image_pr",
    "class_histogram": "image_coverage", "class_coverage": "image_coverage",
    "conditional_accuracy": "image_coverage", "ClassCoverage": "image_coverage",
    "ConditionalAccuracy": "image_coverage",
    "psnr": "restore_psnr", "PSNR": "restore_psnr", "ssim": "restore_ssim", "SSIM": "restore_ssim",
    "rgb_to_y": "_restore",
    "perplexity": "text_perplexity", "Perplexity": "text_perplexity",
    "bleu": "text_bleu", "BLEU": "text_bleu", "self_bleu": "text_bleu", "SelfBLEU": "text_bleu",
    "distinct_n": "text_distinct", "DistinctN": "text_distinct",
    "load_feature_extractor": "features", "FeatureExtractor": "extractor",
    "rmse": "recommend", "mae": "recommend", "topn_scores": "recommend", "precision_at_k": "recommend",
    "recall_at_k": "recommend", "ndcg_at_k": "recommend", "map_at_k": "recommend",
    "catalogue_coverage": "recommend", "novelty": "recommend", "RatingError": "recommend", "TopN": "recommend",
    "framewise_nll": "music", "FramewiseNLL": "music", "note_accuracy": "music", "pitch_class_entropy": "music",
    "polyphony": "music", "scale_consistency": "music", "empty_beat_rate": "music", "pitch_range": "music",
    "wasserstein_1d": "music", "compare_sets": "music",
    "frame_mse": "video", "video_frame_scores": "video", "video_prediction_scores": "video",
    "VideoPredictionMetrics": "video",
    "snr": "audio", "si_snr": "audio", "SNR": "audio", "SISNR": "audio", "audio_distribution_metrics": "audio",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
