"""LVIS evaluation with a configurable number of detections per image."""
from mmdet.evaluation.metrics import LVISMetric
from mmdet.evaluation.metrics import lvis_metric as _lvis_metric

from ..registry import METRICS


@METRICS.register_module()
class LVISMetricMaxDets(LVISMetric):
    """mmdet's ``LVISMetric`` whose lvis-api ``LVISResults`` keeps ``max_dets`` detections per
    image (lvis-api's and mmdet's default is 300; EVA-01's 1536 LVIS protocol evaluates 1000).

    Args:
        max_dets: detections kept per image (highest scores first); -1 keeps all.
        **kwargs: ``LVISMetric`` arguments.
    """

    def __init__(self, *args, max_dets: int = 300, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not (max_dets == -1 or max_dets > 0):
            raise ValueError(f'max_dets must be positive or -1, got {max_dets}')
        self.max_dets = max_dets

    def compute_metrics(self, results: list) -> dict:
        original = _lvis_metric.LVISResults
        max_dets = self.max_dets

        def lvis_results(lvis_gt, dets, max_dets=max_dets):  # noqa: ANN001
            return original(lvis_gt, dets, max_dets=max_dets)

        # mmdet builds LVISResults inside compute_metrics without a max_dets argument
        _lvis_metric.LVISResults = lvis_results
        try:
            return super().compute_metrics(results)
        finally:
            _lvis_metric.LVISResults = original


__all__ = ['LVISMetricMaxDets']
