"""tools/data/build_k722.py on small fake K400/K600/K700 lists."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location(
    'build_k722', osp.join(osp.dirname(__file__), '..', 'tools', 'data', 'build_k722.py'))
bk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bk)


def _write(path, lines):
    path.write_text(''.join(f'{ln}\n' for ln in lines))
    return str(path)


@pytest.fixture
def fake_kinetics(tmp_path):
    d = tmp_path
    srcs = []
    # K400: classes a, b; K600 adds c and spells "b" differently; K700 adds d
    srcs.append(bk.Source(
        'k400',
        _write(d / 'k400_train.txt', ['aaaaaaaaaaa_000000_000010.mp4 0',   # a
                                      'bbbbbbbbbbb_000005_000015.mp4 1',   # b
                                      'leak_in_600_000001_000011.mp4 0',   # in K600 val
                                      'dupdupdupdu_000000_000010.mp4 1']),  # also in K600 train
        _write(d / 'k400_val.txt', ['val400vid01_000000_000010.mp4 0']),
        _write(d / 'k400_labels.txt', ['Abseiling', 'brushing_teeth'])))
    srcs.append(bk.Source(
        'k600',
        _write(d / 'k600_train.txt', ['dupdupdupdu_000020_000030.mp4 0',   # dup (other clip)
                                      'ccccccccccc_000000_000010.mp4 2',
                                      'val400vid01_000030_000040.mp4 2']),  # in K400 val
        _write(d / 'k600_val.txt', ['leak_in_600_000001_000011.mp4 1',
                                    'val400vid01_000000_000010.mp4 0']),   # dup val
        _write(d / 'k600_labels.txt', ['brushing teeth', 'abseiling', 'cooking egg'])))
    srcs.append(bk.Source(
        'k700',
        _write(d / 'k700_train.txt', ['ddddddddddd_000000_000010.mp4 0',
                                      'ccccccccccc_000000_000010.mp4 1']),  # dup of K600
        _write(d / 'k700_val.txt', ['val700vid01_000000_000010.mp4 0']),
        _write(d / 'k700_labels.txt', ['dancing  ballet', 'Cooking egg', 'abseiling'])))
    return srcs


def test_merge_dedup_and_leak_removal(fake_kinetics):
    res = bk.build_k722(fake_kinetics)
    assert res['classes'] == ['Abseiling', 'brushing_teeth', 'cooking egg', 'dancing  ballet']
    lab = {name: i for i, name in enumerate(res['classes'])}
    train = dict(res['train'])
    assert train == {
        'k400/train/aaaaaaaaaaa_000000_000010.mp4': lab['Abseiling'],
        'k400/train/bbbbbbbbbbb_000005_000015.mp4': lab['brushing_teeth'],
        'k400/train/dupdupdupdu_000000_000010.mp4': lab['brushing_teeth'],
        'k600/train/ccccccccccc_000000_000010.mp4': lab['cooking egg'],
        'k700/train/ddddddddddd_000000_000010.mp4': lab['dancing  ballet'],
    }
    st = res['stats']
    assert st['train_dropped_leaked_val'] == 2  # leak_in_600 (K400 train), val400vid01 (K600)
    assert st['train_dropped_duplicate'] == 2   # dupdupdupdu (K600), ccccccccccc (K700)
    assert st['duplicate_label_conflicts'] == 0
    assert [p for p, _ in res['val']] == ['k400/val/val400vid01_000000_000010.mp4',
                                         'k600/val/leak_in_600_000001_000011.mp4',
                                         'k700/val/val700vid01_000000_000010.mp4']
    assert dict(res['val'])['k600/val/leak_in_600_000001_000011.mp4'] == lab['Abseiling']
    assert st['val_dropped_duplicate'] == 1


def test_cli_writes_lists(fake_kinetics, tmp_path):
    out = tmp_path / 'k722'
    argv = ['--out', str(out)]
    for s in fake_kinetics:
        argv += ['--src', s.name, s.train_list, s.val_list, s.label_map]
    assert bk.main(argv) == 0
    assert (out / 'label_map_k722.txt').read_text().splitlines()[0] == 'Abseiling'
    lines = (out / 'k722_train_list_videos.txt').read_text().splitlines()
    assert len(lines) == 5 and lines[0] == 'k400/train/aaaaaaaaaaa_000000_000010.mp4 0'
    assert json.loads((out / 'k722_stats.json').read_text())['classes'] == 4
    # class mappings (official k722_to_k400_mapping.npy format): K722 index per source class
    # K722 = [Abseiling, brushing_teeth, cooking egg, dancing  ballet]
    want = {'k400': [0, 1], 'k600': [1, 0, 2], 'k700': [3, 2, 0]}
    for name, m in want.items():
        got = np.load(out / f'k722_to_{name}_mapping.npy')
        assert got.dtype == np.int64 and got.tolist() == m, name


def test_bad_inputs_name_the_file_and_line(fake_kinetics, tmp_path):
    bad = _write(tmp_path / 'bad.txt', ['x_000000_000010.mp4 0', 'y.mp4 7'])
    s = fake_kinetics[0]
    with pytest.raises(ValueError, match=r'bad\.txt:2: label 7 out of range'):
        bk.build_k722([bk.Source('k400', bad, s.val_list, s.label_map)])
    bad = _write(tmp_path / 'bad2.txt', ['only_a_path.mp4'])
    with pytest.raises(ValueError, match=r'bad2\.txt:1: expected "<path> <label>"'):
        bk.build_k722([bk.Source('k400', bad, s.val_list, s.label_map)])
    dup = _write(tmp_path / 'dup_labels.txt', ['a b', 'A_B'])
    with pytest.raises(ValueError, match='repeats line 1'):
        bk.build_k722([bk.Source('k400', s.train_list, s.val_list, dup)])
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        bk.build_k722([bk.Source('k400', str(tmp_path / 'missing.txt'), s.val_list,
                                 s.label_map)])


def test_video_id():
    assert bk.video_id('a/b/--x_y-z_12_000010_000020.mp4') == '--x_y-z_12'
    assert bk.video_id('clip.avi') == 'clip'
    assert bk.normalize_class('  Brushing_Teeth ') == 'brushing teeth'
