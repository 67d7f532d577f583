"""Video pipeline transforms for mmaction2 configs (``type='eva_mm.<Name>'``)."""
import os.path as osp
from typing import Optional, Union

import numpy as np
import cv2
from mmaction.datasets.transforms import ColorJitter as MMAColorJitter
from mmaction.datasets.transforms import DecordDecode, DecordInit, SampleFrames
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


@TRANSFORMS.register_module()
class SampleSegments(BaseTransform):
    """TSN segment sampling into ``num_views`` clips of ``num_segments`` frames, as the
    official EVA-01 video code (``datasets/build.py``: ``SampleFrames(clip_len=1,
    num_clips=T)``, and ``multiview=K`` for the multi-view test).

    The video is cut into ``num_segments`` equal segments and one frame is taken from each;
    mmaction2's ``SampleFrames(clip_len=1, frame_interval=1, num_clips=num_segments)`` draws
    the indices (train: a random frame per segment; ``test_mode`` with one view: the middle
    frame of each segment). mmaction2's ``SampleFrames`` alone would label them as
    ``num_segments`` one-frame clips; here they form ``num_views`` clips of ``num_segments``
    frames (``clip_len=num_segments``, ``num_clips=num_views``), what ``FormatShape('NCTHW')``
    and a 3D recognizer need.

    Multi-view (``num_views > 1``): every view is an independent random segment draw, as in
    the official multi-view test. In ``test_mode`` those draws come from the random state
    seeded with ``seed`` (the same draws for every video and every run; the global random
    state is restored afterwards), so an evaluation is repeatable.
    Required keys: ``total_frames``, ``start_index``. Added keys: ``frame_inds``,
    ``clip_len``, ``frame_interval``, ``num_clips``.
    """

    def __init__(self, num_segments: int, num_views: int = 1, test_mode: bool = False,
                 seed: int = 0) -> None:
        for name, v in (('num_segments', num_segments), ('num_views', num_views)):
            if not (isinstance(v, int) and v > 0):
                raise ValueError(f'SampleSegments: {name} must be a positive int, got {v!r}')
        self.num_segments = num_segments
        self.num_views = num_views
        self.test_mode = test_mode
        self.seed = seed
        self._random = SampleFrames(clip_len=1, frame_interval=1, num_clips=num_segments)
        self._middle = SampleFrames(clip_len=1, frame_interval=1, num_clips=num_segments,
                                    test_mode=True)

    def transform(self, results: dict) -> dict:
        def draw(sampler: SampleFrames) -> np.ndarray:
            return sampler.transform(dict(results))['frame_inds']

        if self.test_mode and self.num_views == 1:
            views = [draw(self._middle)]
        elif self.test_mode:
            state = np.random.get_state()
            np.random.seed(self.seed)
            try:
                views = [draw(self._random) for _ in range(self.num_views)]
            finally:
                np.random.set_state(state)
        else:
            views = [draw(self._random) for _ in range(self.num_views)]
        results['frame_inds'] = np.concatenate(views).astype(np.int32)
        results['clip_len'] = self.num_segments
        results['frame_interval'] = 1
        results['num_clips'] = self.num_views
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_segments={self.num_segments}, '
                f'num_views={self.num_views}, test_mode={self.test_mode}, seed={self.seed})')


@TRANSFORMS.register_module()
class RandomGrayscale(BaseTransform):
    """With probability ``prob``, turn every frame of the sample (``imgs``, RGB uint8) into
    grey, kept as 3 equal channels: one draw per sample, as the official EVA-01 video
    ``GrayScale`` (torchvision ``Grayscale(3)``, i.e. PIL ``L = 0.299 R + 0.587 G + 0.114 B``,
    rounded). mmaction2 has no video grayscale; mmcv's ``RandomGrayscale`` reads ``img`` only.
    Required / modified keys: ``imgs``.
    """

    WEIGHTS = (0.299, 0.587, 0.114)

    def __init__(self, prob: float = 0.2) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'RandomGrayscale: prob must be in [0, 1], got {prob!r}')
        self.prob = prob

    @classmethod
    def to_gray(cls, img: np.ndarray) -> np.ndarray:
        """One RGB frame ``(H, W, 3)`` -> its grey value in all 3 channels, same dtype."""
        if img.ndim != 3 or img.shape[-1] != 3:
            raise ValueError(f'RandomGrayscale expects (H, W, 3) RGB frames, got {img.shape}')
        gray = img.astype(np.float32) @ np.asarray(cls.WEIGHTS, np.float32)
        if np.issubdtype(img.dtype, np.integer):
            gray = np.clip(np.rint(gray), 0, np.iinfo(img.dtype).max)
        return np.repeat(gray[..., None], 3, axis=-1).astype(img.dtype)

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            results['imgs'] = [self.to_gray(img) for img in results['imgs']]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class ColorJitter(MMAColorJitter):
    """mmaction2's ``ColorJitter`` (one brightness / contrast / saturation / hue draw per
    sample, applied to every frame) with two fixes to its hue step:

    * ``hue`` is a fraction of the hue circle, as torchvision's ``ColorJitter`` (the
      official EVA-01 one): a factor ``h`` shifts OpenCV's 180-step hue channel by
      ``int(h * 180)`` steps (mmaction2 shifts by ``int(h * 255)`` steps, 1.4x too far);
    * a negative shift works with numpy >= 2 (mmaction2 adds it to a ``uint8`` array, which
      raises ``OverflowError`` there).

    Same arguments as mmaction2's ``ColorJitter``. Required / modified keys: ``imgs``.
    """

    @staticmethod
    def adjust_hue(img: np.ndarray, factor: float) -> np.ndarray:
        img = np.clip(img, 0, 255).astype(np.uint8)
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        offset = int(factor * 180)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + offset) % 180).astype(np.uint8)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)
