"""Shared fixtures: the bundled sample data, generated once per checkout."""
import fcntl
import os
import os.path as osp
import subprocess
import sys

import pytest

# The tiny models gain nothing from intra-op threads, and on a loaded 2-core
# machine torch's thread pool made a training step ~50x slower: one thread per
# process (subprocesses inherit the variable).
os.environ.setdefault('OMP_NUM_THREADS', '1')
import torch  # noqa: E402

torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SAMPLE = osp.join(REPO, 'data', 'evalmuse_sample')


def ensure_sample_data(root: str = SAMPLE) -> str:
    """Generates and converts the sample data exactly as ``make data`` does, if
    missing.
    """
    done = osp.join(root, 'annotations', 'evalmuse_test.json')
    os.makedirs(osp.dirname(root), exist_ok=True)
    with open(osp.join(osp.dirname(root), '.sample.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not osp.exists(done):

            def run(*a):
                subprocess.run([sys.executable, *a], cwd=REPO, check=True)

            if not osp.exists(osp.join(root, 'train', 'train_info.json')):
                run('tools/misc/make_sample_data.py', '--out', root, '--seed',
                    '0')
            run('tools/dataset_converters/evalmuse_structure.py', '--info',
                osp.join(root, 'train', 'train_info.json'), '--img-dir',
                osp.join(root, 'train', 'images'), '--out',
                osp.join(root, 'annotations', 'evalmuse.json'), '--val-ratio',
                '0.2', '--seed', '0', '--no-progress')
            run('tools/dataset_converters/evalmuse_structure.py', '--info',
                osp.join(root, 'test', 'test_info.json'), '--img-dir',
                osp.join(root, 'test', 'images'), '--out', done,
                '--no-progress')
    return root


@pytest.fixture(scope='session')
def sample_data_root() -> str:
    """Path of data/evalmuse_sample (EvalMuse layout + converted COCO
    annotations).
    """
    return ensure_sample_data()


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO


def instance_deviation(a, b) -> dict:
    """How far two predictions of the same image are apart.

    Instances are paired by an optimal assignment on box and score distance
    (float noise may reorder near-equal scores), then compared field by
    field. Returns ``count`` (the two lengths) when they differ, else the
    largest absolute difference of ``bboxes`` (px), ``scores``, the number of
    differing ``labels``, and for masks ``mask_abs`` (largest difference of
    the mask values as floats) and ``mask_frac`` (share of differing pixels).
    """
    from scipy.optimize import linear_sum_assignment
    if len(a) != len(b):
        return dict(count=(len(a), len(b)))
    if len(a) == 0:
        return dict(bboxes=0.0, scores=0.0, labels=0)
    cost = (a.bboxes[:, None] - b.bboxes[None]).abs().amax(-1) + \
        1e3 * (a.scores[:, None] - b.scores[None]).abs()
    rows, cols = linear_sum_assignment(cost.double().cpu().numpy())
    rows, cols = torch.as_tensor(rows), torch.as_tensor(cols)
    out = dict(
        bboxes=float((a.bboxes[rows] - b.bboxes[cols]).abs().max()),
        scores=float((a.scores[rows] - b.scores[cols]).abs().max()),
        labels=int((a.labels[rows] != b.labels[cols]).sum()))
    if 'masks' in a or 'masks' in b:
        ma = torch.as_tensor(a.masks)[rows].float()
        mb = torch.as_tensor(b.masks)[cols].float()
        if ma.shape != mb.shape:
            out['mask_shape'] = (tuple(ma.shape), tuple(mb.shape))
        else:
            diff = (ma - mb).abs()
            out['mask_abs'] = float(diff.max())
            out['mask_frac'] = float((diff > 0).float().mean())
    return out


@pytest.fixture(scope='session')
def instance_deviation_fn():
    """``instance_deviation`` for the tests (conftest is not importable)."""
    return instance_deviation


def padded_detection_batch(images, canvas=None, ori_scale: float = 1.5):
    """A zero-padded batch of network inputs and its ``DetDataSample``s, as
    ``DetDataPreprocessor`` makes it: each ``(3, h, w)`` image at the top left
    of the canvas (default: the batch's largest height and width), its
    original image ``ori_scale`` times larger."""
    from mmdet.structures import DetDataSample
    if canvas is None:
        canvas = (max(img.shape[1]
                      for img in images), max(img.shape[2] for img in images))
    inputs = torch.zeros((len(images), 3) + tuple(canvas))
    samples = []
    for idx, img in enumerate(images):
        h, w = img.shape[1:]
        inputs[idx, :, :h, :w] = img
        ori = (round(h * ori_scale), round(w * ori_scale))
        samples.append(
            DetDataSample(
                metainfo=dict(
                    img_id=idx,
                    img_shape=(h, w),
                    ori_shape=ori,
                    pad_shape=tuple(canvas),
                    batch_input_shape=tuple(canvas),
                    scale_factor=(w / ori[1], h / ori[0]))))
    return inputs, samples


def batch_placements(model, canvas=(128, 128), ori_scale: float = 1.5):
    """A detector's predictions of two images in every placement a
    batch-independence test compares: image A (128x128) alone, first and
    second beside B (96x128) and beside another neighbour (112x96); image B
    alone on the padded canvas, beside A on either side and beside a changed
    A.

    Args:
        model: an mmdet detector in eval mode (``predict(inputs, samples,
            rescale=True)``).
        canvas: the padded size of B alone (A's size: B padded as beside A).
        ori_scale: original images are this much larger than the inputs.

    Returns:
        tuple: ``(image_a, image_b)``, dicts from a placement's name to the
            image's ``pred_instances`` there, the reference placement first.
    """

    def predict(images, canvas=None):
        inputs, samples = padded_detection_batch(images, canvas, ori_scale)
        with torch.no_grad():
            results = model.predict(inputs, samples, rescale=True)
        return [sample.pred_instances for sample in results]

    def pixels(h, w, seed):
        return torch.randn((3, h, w),
                           generator=torch.Generator().manual_seed(seed))

    a, a_changed = pixels(128, 128, 0), pixels(128, 128, 1)
    b, other = pixels(96, 128, 2), pixels(112, 96, 3)
    image_a = {
        'A alone': predict([a])[0],
        'A first beside B': predict([a, b])[0],
        'A second beside B': predict([b, a])[1],
        'A beside another neighbour (112x96)': predict([a, other])[0],
    }
    image_b = {
        'B alone on the padded canvas': predict([b], canvas=canvas)[0],
        'B second beside A': predict([a, b])[1],
        'B first beside A': predict([b, a])[0],
        'B beside a changed A': predict([a_changed, b])[1],
    }
    return image_a, image_b


@pytest.fixture(scope='session')
def batch_placements_fn():
    """``batch_placements`` for the tests."""
    return batch_placements


def load_script(relpath: str):
    """A repository script (``tools/...``, a test file) as a module.

    Tools are scripts, not a package; each path is executed once per session.

    Args:
        relpath (str): Path relative to the repository root.

    Returns:
        module: The executed script.
    """
    import importlib.util
    if relpath not in _SCRIPTS:
        name = osp.splitext(osp.basename(relpath))[0]
        spec = importlib.util.spec_from_file_location(
            f'struct_det_script_{name}', osp.join(REPO, relpath))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _SCRIPTS[relpath] = module
    return _SCRIPTS[relpath]


_SCRIPTS: dict = {}


@pytest.fixture(scope='session')
def load_script_fn():
    """``load_script`` for the tests."""
    return load_script


@pytest.fixture(scope='session')
def smoke_tool():
    """``tools/misc/smoke_configs.py`` as a module, loaded once."""
    return load_script('tools/misc/smoke_configs.py')


def run_tool(*args: str) -> str:
    """Runs a repository script with this interpreter from the repository
    root and asserts that it succeeds.

    Args:
        *args (str): The script's path relative to the root, then its
            arguments.

    Returns:
        str: What it printed, stdout then stderr.
    """
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def write_val_subset(sample_data_root: str, path: str, num_images: int) -> str:
    """Writes the first images of the sample val split and their annotations as
    a COCO file of their own.

    Args:
        sample_data_root (str): The sample data (``sample_data_root``).
        path (str): Where to write the subset.
        num_images (int): How many images to keep.

    Returns:
        str: ``path``.
    """
    import json
    with open(osp.join(sample_data_root, 'annotations',
                       'evalmuse_val.json')) as f:
        coco = json.load(f)
    coco['images'] = coco['images'][:num_images]
    ids = {img['id'] for img in coco['images']}
    coco['annotations'] = [
        a for a in coco['annotations'] if a['image_id'] in ids
    ]
    with open(path, 'w') as f:
        json.dump(coco, f)
    return str(path)


def read_test_metrics(work_dir: str, structure_keys: tuple) -> dict:
    """The metrics ``tools/test.py --work-dir work_dir`` wrote, asserting
    that every ``structure/<key>`` of ``structure_keys`` is among them.

    Args:
        work_dir (str): The work dir of one test run.
        structure_keys (tuple): StructureMetric keys that must be there.

    Returns:
        dict: The metrics, by their logged names.
    """
    import glob
    import json
    [metrics_file] = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(metrics_file) as f:
        metrics = json.loads(f.readline())
    for key in structure_keys:
        assert f'structure/{key}' in metrics, key
    return metrics


def assert_zip_scores_as_logged(zip_path: str, gt_path: str,
                                metrics: dict) -> None:
    """Asserts that the offline scorer (``tools/evaluate_submission.py``)
    gives a submission zip the numbers the in-loop metric logged.

    Args:
        zip_path (str): The submission zip the test run wrote.
        gt_path (str): The split's ``gt.pkl``.
        metrics (dict): The run's metrics (``read_test_metrics``).
    """
    import json
    out_json = osp.join(osp.dirname(str(zip_path)), 'scores.json')
    run_tool('tools/evaluate_submission.py', str(zip_path), str(gt_path),
             '--out-json', out_json)
    with open(out_json) as f:
        scores = json.load(f)
    for key in ('final_score', 'f1_score', 'precision', 'recall', 'srcc',
                'plcc'):
        # the scorer's JSON writes NaN as null
        ours = float('nan') if scores[key] is None else scores[key]
        assert ours == pytest.approx(
            metrics[f'structure/{key}'], abs=1e-4, nan_ok=True), key


@pytest.fixture(scope='session')
def tiny_e2e():
    """The end-to-end helpers above for the tests: ``run_tool``,
    ``write_val_subset``, ``read_test_metrics`` and
    ``assert_zip_scores_as_logged`` as attributes.
    """
    import types
    return types.SimpleNamespace(
        run_tool=run_tool,
        write_val_subset=write_val_subset,
        read_test_metrics=read_test_metrics,
        assert_zip_scores_as_logged=assert_zip_scores_as_logged)
