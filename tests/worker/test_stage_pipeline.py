"""StagePipeline: order, errors reaching the caller, early exits that neither hang nor leak threads,
bounded queues, real concurrency; and a pipelined chunk encodes exactly as a sequential one."""

import dataclasses
import random
import threading
import time

import av
import pytest
from hdrtv.model import load_converter
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.control.options import ConversionOptions
from hdrtv.worker.formats.static_metadata import MasteringDisplay
from hdrtv.worker.media.chunks import plan_chunks
from hdrtv.worker.media.encode import HevcChunkEncoder
from hdrtv.worker.media.probe import probe
from hdrtv.worker.pipeline import chunk_hdr_frames, convert_chunk
from hdrtv.worker.stage_pipeline import StagePipeline
from video_factory import write_clip


class Boom(Exception):
    pass


@pytest.fixture
def no_thread_left():
    """Fails the test if it leaves a thread running."""
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) - before == set()


def _jittered(items, seed):
    rng = random.Random(seed)
    for item in items:
        time.sleep(rng.uniform(0, 0.002))
        yield item


def test_order_is_kept_whatever_the_delays(no_thread_left):
    def double(items):
        return (2 * item for item in _jittered(items, 1))

    def plus_one(items):
        return (item + 1 for item in _jittered(items, 2))

    with StagePipeline(_jittered(range(300), 0), double, plus_one, queue_size=3) as items:
        assert list(items) == [2 * i + 1 for i in range(300)]
    assert list(items) == []  # exhausted: stays so


def test_a_source_alone_and_a_list_source(no_thread_left):
    with StagePipeline([1, 2, 3]) as items:
        assert list(items) == [1, 2, 3]
    with StagePipeline([], lambda items: (item for item in items)) as items:
        assert list(items) == []


def explode(item):
    if item == 5:
        raise Boom(f"item {item}")
    return item


@pytest.mark.parametrize("where", ["source", "middle", "last"])
def test_an_error_in_any_stage_reaches_the_caller(no_thread_left, where):
    closed = []

    def source():
        try:
            for item in range(1000):
                yield explode(item) if where == "source" else item
        finally:
            closed.append("source")

    def middle(items):
        try:
            for item in items:
                yield explode(item) if where == "middle" else item
        finally:
            closed.append("middle")

    def last(items):
        return (explode(item) if where == "last" else item for item in items)

    received = []
    with pytest.raises(Boom, match="item 5") as raised, StagePipeline(source(), middle, last) as items:
        received.extend(items)
    assert received == list(range(len(received))) and len(received) <= 5
    assert "explode" in [entry.name for entry in raised.traceback]  # the original traceback
    assert sorted(closed) == ["middle", "source"]


def test_an_error_in_the_callers_loop_stops_the_stages(no_thread_left):
    closed = threading.Event()

    def endless():
        try:
            yield from iter(int, 1)
        finally:
            closed.set()

    with pytest.raises(Boom), StagePipeline(endless(), lambda items: items) as items:
        for _ in items:
            raise Boom
    assert closed.is_set()


def test_a_consumer_stopping_early_closes_the_producers(no_thread_left):
    closed = []

    def endless():
        try:
            count = 0
            while True:
                yield count
                count += 1
        finally:
            closed.append("source")

    def passing(items):
        try:
            yield from items
        finally:
            closed.append("stage")

    started = time.monotonic()
    with StagePipeline(endless(), passing) as items:
        for item in items:
            if item == 3:
                break
    assert time.monotonic() - started < 5
    assert sorted(closed) == ["source", "stage"]


@pytest.mark.parametrize("queue_size", [1, 3])
def test_a_fast_producer_stays_at_most_a_queue_ahead(no_thread_left, queue_size):
    produced = 0

    def fast():
        nonlocal produced
        for item in range(40):
            produced += 1
            yield item

    ahead = []
    with StagePipeline(fast(), queue_size=queue_size) as items:
        for consumed, _ in enumerate(items, start=1):
            time.sleep(0.005)  # the producer has time to fill the queue
            ahead.append(produced - consumed)
    # queued items, plus the one the producer's thread waits to queue
    assert max(ahead) <= queue_size + 1
    assert max(ahead) >= 1  # it does run ahead


def test_stages_run_concurrently(no_thread_left):
    def slow(items):
        for item in items:
            time.sleep(0.02)
            yield item

    started = time.monotonic()
    with StagePipeline(slow(range(30)), slow, slow) as items:
        assert list(items) == list(range(30))
    # one after the other: 30 * 3 * 20 ms = 1.8 s; as a pipeline about 0.64 s
    assert time.monotonic() - started < 1.2


def test_queue_size_must_be_positive():
    with pytest.raises(ValueError, match="queue_size"):
        StagePipeline([], queue_size=0)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return probe(write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", width=96, height=64, frames=24, gop=6))


OPTIONS = ConversionOptions(model="bt2446a", preset="ultrafast")
MASTERING = MasteringDisplay(max_luminance=OPTIONS.max_nits)


def _sequential(info, chunk, converter, path):
    """convert_chunk done the plain way: one frame decoded, converted and encoded after another."""
    with HevcChunkEncoder(
        path, info.width, info.height, info.time_base, info.frame_rate, preset=OPTIONS.preset, mastering=MASTERING
    ) as encoder:
        for index, hdr in zip(range(chunk.start, chunk.stop), chunk_hdr_frames(info, chunk, [0], converter)):
            encoder.write(hdr, pts=info.frame_pts[index])
    return encoder.meter


def _packets(path):
    with av.open(str(path)) as container:
        return [(p.pts, p.duration, bytes(p)) for p in container.demux(container.streams.video[0]) if p.size]


def test_a_pipelined_chunk_equals_a_sequential_one(clip, tmp_path, no_thread_left):
    converter = load_converter("bt2446a", batch_size=2)
    chunks = plan_chunks(clip.frame_count, [0], 12, converter.radius)
    assert [(c.start, c.stop) for c in chunks] == [(0, 12), (12, 24)]
    for chunk in chunks:
        plain, piped = tmp_path / f"plain{chunk.index}.mp4", tmp_path / f"piped{chunk.index}.mp4"
        expected = _sequential(clip, chunk, converter, plain)
        progress = []
        meter = convert_chunk(clip, chunk, [0], converter, piped, MASTERING, OPTIONS, progress.append)
        assert progress == [1] * 12
        assert meter.result() == expected.result()
        assert _packets(piped) == _packets(plain)


def test_a_decoding_error_stays_an_input_error(clip, tmp_path, no_thread_left):
    """A frame that never arrives fails in the decoding thread; the caller gets the InputError
    and no half chunk is left."""
    missing = dataclasses.replace(clip, frame_pts=(*clip.frame_pts[:20], clip.frame_pts[20] + 1, *clip.frame_pts[21:]))
    converter = load_converter("bt2446a")
    chunk = plan_chunks(clip.frame_count, [0], 24, converter.radius)[0]
    path = tmp_path / "chunk.mp4"
    with pytest.raises(InputError, match="frame 20"):
        convert_chunk(missing, chunk, [0], converter, path, MASTERING, OPTIONS)
    assert not path.exists()
