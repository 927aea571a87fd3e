"""Run a chain of stages concurrently, one thread each, joined by small bounded queues.

A chunk is decoded, converted and encoded. One after the other, a chunk takes the sum of the three
stages' times; as a pipeline, about the slowest stage's. Threads suffice: the heavy work of every
stage releases the GIL (FFmpeg decoding and swscale inside PyAV, torch operators, libx265, which
also runs its own thread pool), so Python holds the GIL only between frames.

    with StagePipeline(decode_frames(info), lambda frames: converter.run(frames, windows)) as hdr:
        for frame in hdr:  # the last stage runs in the caller's thread
            encoder.write(frame, ...)

The source iterable is iterated in a thread of its own; each stage is a function from an iterator
over the previous stage's items to an iterable of its own items (typically a generator), called
and iterated in a thread of its own. Items keep their order. Each queue holds `queue_size` items
(default 2): enough to absorb the jitter between stages, and few, because a 2160p frame is 100 MB
as float32. So each thread holds at most `queue_size + 1` items beyond its own working set (those
queued after it, and the one it waits to queue).

The first exception raised in any thread stops every thread and is re-raised in the caller's
thread: the same object, so its type and traceback are kept; items still queued are dropped.
Leaving early (`close`, the end of the `with` block, an exception in the caller's loop) stops
them too. A thread stops between items: the generator it iterates is closed in that thread, so
its `finally` blocks run (PyAV containers close), and `close` returns once all threads ended.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

_END = object()  # put after a thread's last item
_POLL_S = 0.05  # how long a blocked put or get waits before it looks at the stop flag again


class _Stopped(BaseException):
    """Raised in a stage reading its input once the pipeline stops. A BaseException, like
    GeneratorExit, so that stage code catching Exception lets it through."""


class StagePipeline:
    """Iterator over the last stage's items; the stages run from construction until the end of
    the items, the first error, or `close`. Use it as a context manager (or call `close`)."""

    def __init__(
        self, source: Iterable[Any], *stages: Callable[[Iterator[Any]], Iterable[Any]], queue_size: int = 2
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._queues: list[queue.Queue[Any]] = [queue.Queue(queue_size) for _ in range(len(stages) + 1)]
        producers = [lambda: source] + [self._stage(stage, inbox) for stage, inbox in zip(stages, self._queues)]
        self._threads = [
            threading.Thread(target=self._run, args=(produce, out), name=f"stage-{index}", daemon=True)
            for index, (produce, out) in enumerate(zip(producers, self._queues))
        ]
        for thread in self._threads:
            thread.start()

    def _stage(
        self, stage: Callable[[Iterator[Any]], Iterable[Any]], inbox: queue.Queue[Any]
    ) -> Callable[[], Iterable[Any]]:
        return lambda: stage(self._receive(inbox))

    def _run(self, produce: Callable[[], Iterable[Any]], out: queue.Queue[Any]) -> None:
        """One thread: queue the items `produce()` gives, then _END; record the first error."""
        try:
            items = iter(produce())
            try:
                for item in items:
                    if not self._put(out, item):
                        return
                self._put(out, _END)
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
        except _Stopped:
            pass
        except BaseException as error:
            with self._lock:
                if self._error is None:
                    self._error = error
            self._stop.set()

    def _put(self, out: queue.Queue[Any], item: Any) -> bool:
        """Queue `item` once there is room; False if the pipeline stopped first."""
        while not self._stop.is_set():
            try:
                out.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                pass
        return False

    def _get(self, inbox: queue.Queue[Any]) -> Any:
        """The next queued item; _Stopped once the pipeline stops."""
        while not self._stop.is_set():
            try:
                return inbox.get(timeout=_POLL_S)
            except queue.Empty:
                pass
        raise _Stopped

    def _receive(self, inbox: queue.Queue[Any]) -> Iterator[Any]:
        while (item := self._get(inbox)) is not _END:
            yield item

    def __iter__(self) -> StagePipeline:
        return self

    def __next__(self) -> Any:
        try:
            item = self._get(self._queues[-1])
        except _Stopped:
            item = _END
        if item is not _END and not self._stop.is_set():
            return item
        self.close()
        error, self._error = self._error, None
        if error is not None:
            raise error
        raise StopIteration

    def close(self) -> None:
        """Stop every stage and wait for its thread to end."""
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> StagePipeline:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
