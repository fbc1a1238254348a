"""Validation of submissions and ground truths before scoring or writing.

The per-record checks (:func:`~.functional.check_score`,
:func:`~.functional.check_pred_area`, :func:`~.functional.check_gt_area`)
live with the scorer; this module applies them to whole files and turns
suspicious but scorable content into notes (also issued as warnings).
"""
import os.path as osp
import warnings
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Set, Tuple)

import numpy as np

from .functional import (check_gt_area, check_pred_area, check_score,
                         score_submission, summarize_notes)


def _check_record(side: str, key: Any, entry: Any) -> None:
    """Raise unless ``key`` is a str and ``entry`` a score/mask record."""
    if not isinstance(key, str):
        raise ValueError(f'{side} key {key!r} is a {type(key).__name__}; '
                         'keys must be image names (str) without extension')
    if (not isinstance(entry, Mapping) or 'score' not in entry
            or 'pred_area' not in entry):
        got = (
            sorted(entry)
            if isinstance(entry, Mapping) else type(entry).__name__)
        raise ValueError(f"{side} {key!r}: each record must be a dict with "
                         f"'score' and 'pred_area', got {got}")


def _check_prediction(key: Any, entry: Any) -> List[Tuple[str, str]]:
    """Check one predicted record; return its ``(kind, note)`` notes."""
    _check_record('prediction', key, entry)
    found = [('a bool score', check_score(key, entry['score'])),
             ('negative pred_area values',
              check_pred_area(key, entry['pred_area']))]
    return [(kind, note) for kind, note in found if note]


class NonBinaryMasks:
    """Finds the scored masks that are not uint8 0/1, for a note.

    The released scorer reads such masks too (every pixel > 0 after the
    resize is foreground), but they usually mean a probability map or a
    0/255 mask was submitted. Finding them reads every pixel;
    :func:`validate_submission` does it in its own pass, and an instance
    passed as ``score_submission(inspect=...)`` (a
    :class:`~.functional.PairInspector`) does it while each image is
    scored, when the mask is read anyway.

    Args:
        keys (Sequence[str]): The scored keys, in scoring order.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self._found: Set[int] = set()

    def __call__(self,
                 index: int,
                 pred_area: np.ndarray,
                 gt_area: Any = None) -> Optional[bool]:
        """True when mask ``index`` is not uint8 0/1, else None."""
        if pred_area.dtype != np.uint8 or pred_area.max() > 1:
            return True
        return None

    def collect(self, findings: Mapping[int, Any]) -> None:
        """Records the indices found (see :meth:`__call__`)."""
        self._found.update(findings)

    def notes(self) -> List[str]:
        """The note about the masks found so far.

        Returns:
            list[str]: One note, or none when every mask is uint8 0/1.
        """
        if not self._found:
            return []
        first = self.keys[min(self._found)]
        return [
            f'{len(self._found)} masks are not uint8 0/1 (e.g. {first!r}); '
            'the scorer counts every pixel > 0 after resizing as foreground'
        ]


class GTMaskValues:
    """Checks the GT masks' values (0/1, or 0/255 with a note) as
    :func:`validate_gt` does, one image at a time while it is scored.

    Passed as (or called from) ``score_submission(inspect=...)`` after
    ``validate_gt(gts, scan_pixels=False)``, it reads each GT mask right
    before the counting reads it again.

    Args:
        keys (Sequence[str]): The scored keys, in scoring order.
        source (str): The file name, for messages. Defaults to ``'GT'``.
    """

    def __init__(self, keys: Sequence[str], source: str = 'GT') -> None:
        self.keys = list(keys)
        self.source = source
        self._notes: Dict[int, str] = {}

    def __call__(self, index: int, pred_area: Any,
                 gt_area: np.ndarray) -> Optional[str]:
        """The 0/255 note of GT mask ``index``, or None.

        Raises:
            ValueError: Naming the file and key, for values other than 0/1
                (or 0/255).
        """
        try:
            return check_gt_area(self.keys[index], gt_area)
        except ValueError as err:
            raise ValueError(f'{self.source}: {err}') from err

    def collect(self, findings: Mapping[int, str]) -> None:
        """Records the notes found (see :meth:`__call__`)."""
        self._notes.update(findings)

    def notes(self) -> List[str]:
        """The notes about the 0/255 masks found so far, in key order.

        Returns:
            list[str]: The notes (the first few, then a count).
        """
        found = [self._notes[index] for index in sorted(self._notes)]
        return [
            f'{self.source}: {note}'
            for note in summarize_notes({'a 0/255 GT mask': found})
        ]


class MaskValueChecks:
    """The pixel checks of :func:`validate_gt` and
    :func:`validate_submission`, run on each image while it is scored.

    ``tools/evaluate_submission.py`` validates with ``scan_pixels=False``
    and passes this as ``score_submission(inspect=...)``: every mask is then
    read once by the checks, right before the counting reads it from the
    cache, instead of once more in a pass of its own. A bad GT mask raises
    there, as :func:`validate_gt` would.

    Args:
        keys (Sequence[str]): The scored keys, in scoring order.
        gt_source (str): The GT file name, for messages. Defaults to
            ``'GT'``.
    """

    def __init__(self, keys: Sequence[str], gt_source: str = 'GT') -> None:
        self.gt_values = GTMaskValues(keys, gt_source)
        self.non_binary = NonBinaryMasks(keys)

    def __call__(self, index: int, pred_area: np.ndarray,
                 gt_area: np.ndarray) -> Optional[tuple]:
        """``(GT note, non-binary)`` of image ``index`` (either may be None),
        or None when both are.
        """
        found = (self.gt_values(index, pred_area, gt_area),
                 self.non_binary(index, pred_area, gt_area))
        return None if found == (None, None) else found

    def collect(self, findings: Mapping[int, tuple]) -> None:
        """Hands each check its findings (see :meth:`__call__`)."""
        for part, check in enumerate((self.gt_values, self.non_binary)):
            check.collect({
                index: found[part]
                for index, found in findings.items() if found[part] is not None
            })

    def notes(self) -> List[str]:
        """The GT notes, then the submission's.

        Returns:
            list[str]: The notes.
        """
        return self.gt_values.notes() + self.non_binary.notes()


def validate_submission(preds: Mapping,
                        keys: Optional[Iterable[str]] = None,
                        all_records: bool = False,
                        scan_pixels: bool = True) -> List[str]:
    """Check a submission before scoring or writing it.

    With ``keys``, only their records are scored (as by the released
    scorer): records under other keys are ignored, whatever they hold, and
    reported in a note.

    Args:
        preds (Mapping): ``{key: {"score", "pred_area"}}``.
        keys (Iterable[str], optional): The keys the split needs (e.g. the
            GT's); all must be present. Defaults to None.
        all_records (bool): Check the records outside ``keys`` too (for a
            file we write). Defaults to False.
        scan_pixels (bool): Read every scored mask to note the ones that are
            not uint8 0/1. False leaves that to a :class:`NonBinaryMasks`
            passed to ``score_submission(inspect=...)``, which reads each
            mask once instead of twice (what
            ``tools/evaluate_submission.py`` does). Defaults to True.

    Returns:
        list[str]: Notes about content the scorer scores but that looks like a
            mistake (masks that are not uint8 0/1, negative mask values, bool
            scores, unused keys), also issued as warnings.

    Raises:
        ValueError: Naming the key: missing keys (with a hint when they
            carry an extension), malformed records, bool / ``(1, H, W)`` /
            unreadable masks, non-finite or non-numeric scores.
    """
    if not isinstance(preds, Mapping):
        raise ValueError(
            f'a submission must be a dict, got {type(preds).__name__}')
    notes: List[str] = []
    scored: Iterable = preds
    if keys is not None:
        keys = list(keys)
        missing = [k for k in keys if k not in preds]
        if missing:
            hint = ''
            if any(osp.splitext(str(k))[1] for k in preds):
                hint = (' (the submission keys carry a file extension; use '
                        'the bare name)')
            raise ValueError(f'the submission lacks {len(missing)} of '
                             f'{len(keys)} keys, e.g. {missing[:5]}{hint}')
        wanted = set(keys)
        extra = [k for k in preds if k not in wanted]
        if extra and not all_records:
            scored = keys
            bad = []
            for key in extra:
                try:
                    _check_prediction(key, preds[key])
                except ValueError as err:
                    bad.append(str(err))
            detail = (f'; {len(bad)} of them are not valid records, e.g. '
                      f'{bad[0]}' if bad else '')
            notes.append(f'{len(extra)} submission keys are not in the split '
                         f'and are ignored, e.g. {extra[0]!r}{detail}')
        elif extra:
            notes.append(f'{len(extra)} submission keys are not in the split '
                         'and are ignored')
    scored = list(scored)
    non_binary = NonBinaryMasks(scored)
    record_notes: Dict[str, List[str]] = {}
    for index, key in enumerate(scored):
        entry = preds[key]
        for kind, note in _check_prediction(key, entry):
            record_notes.setdefault(kind, []).append(note)
        if scan_pixels and non_binary(index, entry['pred_area']):
            non_binary.collect({index: True})
    notes.extend(non_binary.notes())
    notes.extend(summarize_notes(record_notes))
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return notes


def validate_gt(gts: Mapping,
                source: str = 'GT',
                scan_pixels: bool = True) -> List[str]:
    """Check a ground truth: records with a finite MOS and a 0/1 mask.

    Args:
        gts (Mapping): ``{key: {"score": mos, "pred_area": mask}}``, masks
            2-D 0/1 (or 0/255).
        source (str): The file name, for messages. Defaults to ``'GT'``.
        scan_pixels (bool): Read every mask for the 0/1 (or 0/255) check.
            False leaves it to a :class:`GTMaskValues` (or
            :class:`MaskValueChecks`) passed to
            ``score_submission(inspect=...)``. Defaults to True.

    Returns:
        list[str]: Notes about content scored the scorer's way but suspicious
            (0/255 masks, bool scores), also issued as warnings.

    Raises:
        ValueError: Naming the file and key.
    """
    if not isinstance(gts, Mapping) or not gts:
        raise ValueError(f'{source}: the GT must be a non-empty dict')
    record_notes: Dict[str, List[str]] = {}
    try:
        for key, entry in gts.items():
            _check_record('GT', key, entry)
            for kind, note in (
                ('a bool GT score', check_score(key, entry['score'],
                                                'GT score')),
                ('a 0/255 GT mask',
                 check_gt_area(key, entry['pred_area'], values=scan_pixels)),
            ):
                if note:
                    record_notes.setdefault(kind, []).append(note)
    except ValueError as err:
        raise ValueError(f'{source}: {err}') from err
    notes = [f'{source}: {note}' for note in summarize_notes(record_notes)]
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return notes


def validate_and_score(preds: Mapping,
                       gts: Mapping,
                       pred_source: str = 'submission',
                       gt_source: str = 'GT',
                       **score_kwargs) -> Tuple[Dict[str, float], List[str]]:
    """Validate a loaded submission and its GT, then score it, reading every
    mask once: what ``tools/evaluate_submission.py`` runs.

    :func:`validate_gt` and :func:`validate_submission` run without their
    pixel passes; their pixel checks run as a :class:`MaskValueChecks` passed
    as ``score_submission(inspect=...)``, right before each image is counted.

    Args:
        preds (Mapping): The submission, ``{key: {"score", "pred_area"}}``.
        gts (Mapping): The ground truth, in the same form.
        pred_source (str): The submission's file name, for messages.
            Defaults to ``'submission'``.
        gt_source (str): The GT's file name, for messages. Defaults to
            ``'GT'``.
        **score_kwargs: The other arguments of
            :func:`~.functional.score_submission` (``area_ratio``,
            ``gt_min_area``, ``iou_thr``, ``plcc_fit``, ``workers``).

    Returns:
        tuple[dict, list[str]]: The scores and the notes of every check (not
        issued as warnings; the scorer's own warnings are).

    Raises:
        ValueError: Naming the file and key, as the two validators do.
    """
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        notes = validate_gt(gts, gt_source, scan_pixels=False)
        try:
            notes += validate_submission(preds, keys=gts, scan_pixels=False)
        except ValueError as err:
            raise ValueError(f'{pred_source}: {err}') from err
    value_checks = MaskValueChecks(list(gts), gt_source)
    result = score_submission(
        preds, gts, check=False, inspect=value_checks, **score_kwargs)
    return result, notes + value_checks.notes()
