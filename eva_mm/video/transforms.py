"""Video pipeline transforms for mmaction2 configs (``type='eva_mm.<Name>'``)."""
import os.path as osp
from typing import Optional, Union

from mmaction.datasets.transforms import DecordDecode, DecordInit
from mmcv.transforms import BaseTransform

from ..registry import TRANSFORMS


class VideoReadError(RuntimeError):
    """A video file that cannot be opened or decoded; the message names the file."""


def _first_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f'{type(e).__name__}: {msg[-1] if msg else ""}'[:300]


@TRANSFORMS.register_module()
class CheckedDecordInit(DecordInit):
    """mmaction2's ``DecordInit`` that fails with :class:`VideoReadError` naming the file
    (decord reads from an in-memory buffer, so its own errors never say which file failed).

    Missing file: FileNotFoundError; unreadable / empty / truncated container: VideoReadError.
    Same arguments as ``DecordInit``.
    """

    def transform(self, results: dict) -> dict:
        fn = results['filename']
        if self.io_backend == 'disk' and not osp.isfile(fn):
            raise FileNotFoundError(f'video file not found: {fn}')
        try:
            results = super().transform(results)
        except Exception as e:  # noqa: BLE001 - re-raised with the file name
            raise VideoReadError(f'cannot open video {fn} (corrupt or truncated file?): '
                                 f'{_first_line(e)}') from e
        if results['total_frames'] <= 0:
            raise VideoReadError(f'video {fn} has no frames')
        return results


@TRANSFORMS.register_module()
class CheckedDecordDecode(DecordDecode):
    """mmaction2's ``DecordDecode`` that fails with :class:`VideoReadError` naming the file
    and the frame indices when decoding fails (e.g. a truncated stream)."""

    def transform(self, results: dict) -> dict:
        fn = results.get('filename', '<unknown file>')
        inds = results.get('frame_inds')
        try:
            return super().transform(results)
        except Exception as e:  # noqa: BLE001 - re-raised with the file name
            shown = list(inds.ravel()[:8]) if inds is not None else None
            raise VideoReadError(f'cannot decode frames {shown}... of video {fn} (corrupt or '
                                 f'truncated file?): {_first_line(e)}') from e


@TRANSFORMS.register_module()
class RepeatFrame(BaseTransform):
    """Replace every frame of each sampled clip by one of its frames (a motionless clip).

    Used to show that a video model relies on motion: fed a single repeated frame, a model that
    uses its temporal attention falls to chance on a motion-only task.

    Place it after the decode transform (``DecordDecode``). Required keys: ``imgs`` (list of
    ``clip_len * num_clips`` frames, clip-major, as ``SampleFrames`` + decode give them),
    ``clip_len``, ``num_clips``. Modified keys: ``imgs``.

    Args:
        index: the frame of each clip to repeat: an int in ``[0, clip_len)`` or ``'middle'``.
        hold: instead of one frame per clip, hold every ``hold``-th frame for ``hold`` frames
            (``hold=2``: frames 0,0,2,2,4,4,...): with tubelets of ``hold`` frames, motion is
            then visible only *across* tubelets, i.e. only to the attention.
    """

    def __init__(self, index: Union[int, str] = 'middle', hold: Optional[int] = None) -> None:
        if not (index == 'middle' or isinstance(index, int)):
            raise ValueError(f"RepeatFrame index must be an int or 'middle', got {index!r}")
        if hold is not None and (not isinstance(hold, int) or hold < 1):
            raise ValueError(f'RepeatFrame hold must be a positive int, got {hold!r}')
        self.index = index
        self.hold = hold

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        clip_len, num_clips = int(results['clip_len']), int(results['num_clips'])
        if len(imgs) != clip_len * num_clips:
            raise ValueError(f'RepeatFrame: {len(imgs)} frames do not match clip_len '
                             f'{clip_len} x num_clips {num_clips}')
        if self.hold is not None:
            results['imgs'] = [imgs[c * clip_len + (t // self.hold) * self.hold].copy()
                               for c in range(num_clips) for t in range(clip_len)]
            return results
        k = clip_len // 2 if self.index == 'middle' else self.index
        if not 0 <= k < clip_len:
            raise ValueError(f'RepeatFrame index {k} out of range for clip_len {clip_len}')
        out = []
        for c in range(num_clips):
            frame = imgs[c * clip_len + k]
            out.extend(frame.copy() for _ in range(clip_len))
        results['imgs'] = out
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(index={self.index!r}, hold={self.hold!r})'
