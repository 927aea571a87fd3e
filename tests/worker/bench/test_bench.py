"""`hdrtv bench` at a tiny size: the report's structure and its internal consistency, never its timings."""

import json

import pytest
import torch
from hdrtv.model import build_dslnet, save_checkpoint
from hdrtv.model.windows import window_plan
from hdrtv.service.cli import main
from hdrtv.worker.bench.device_peak import _cuda_peak, device_peak
from hdrtv.worker.bench.ladder import run_ladder

STAGES = ["decode", "colour conversion", "model", "HDR10 encode", "upload"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    folder = tmp_path_factory.mktemp("bench")
    weights = folder / "tiny.pt"
    save_checkpoint(build_dslnet("M7", width=8, condition_channels=8), weights)
    json_path, markdown_path = folder / "bench.json", folder / "bench.md"
    argv = ["bench", "--size", "64x48", "--size", "32x16", "--frames", "3", "--weights", str(weights)]
    argv += ["--device", "cpu", "--preset", "ultrafast", "--json", str(json_path), "--markdown", str(markdown_path)]
    argv += ["--no-compile"]  # the compile rung compiles per size (tens of seconds): tested on its own below
    argv += ["--batch-size", "2"]  # a batch rung (the CPU default is 1)
    assert main(argv) == 0
    return json.loads(json_path.read_text()), markdown_path.read_text()


def test_every_size_has_every_stage_with_shares_summing_to_one(report):
    result, _ = report
    assert [run["size"] for run in result["runs"]] == ["64x48", "32x16"]
    for run in result["runs"]:
        assert [stage["stage"] for stage in run["stages"]] == STAGES
        assert all(stage["frames_per_second"] > 0 and stage["frames"] == 3 for stage in run["stages"])
        assert sum(stage["share_of_stage_time"] for stage in run["stages"]) == pytest.approx(1.0)
        colour = next(stage for stage in run["stages"] if stage["stage"] == "colour conversion")
        assert colour["seconds"] == pytest.approx(sum(run["colour_conversion_seconds"].values()))
        assert run["upload_target"].startswith("file://")


def test_end_to_end_is_related_to_the_slowest_stage_convert_chunk_runs(report):
    for run in report[0]["runs"]:
        speeds = {stage["stage"]: stage["frames_per_second"] for stage in run["stages"] if stage["stage"] != "upload"}
        assert run["slowest_stage"] == {"stage": min(speeds, key=speeds.get), "frames_per_second": min(speeds.values())}
        e2e = run["end_to_end"]
        assert e2e["frames_per_second"] > 0
        assert e2e["ratio_to_slowest_stage"] == pytest.approx(e2e["frames_per_second"] / min(speeds.values()))


def test_ladder_starts_at_the_fp32_baseline_and_checks_every_rung_against_it(report):
    for run in report[0]["runs"]:
        ladder = run["ladder"]
        # width 8: the engine keeps NCHW on the CPU, so there is no channels-last rung
        assert [rung["name"] for rung in ladder] == [
            "fp32 eager NCHW, batch 1, no per-frame reuse",
            "+ per-frame reuse",
            "+ batch 2",
            "+ bf16 autocast",
        ]
        assert ladder[0]["speedup_over_baseline"] == 1.0 and ladder[0]["accuracy"]["psnr_db"] is None
        for rung in ladder:
            assert rung["speedup_over_baseline"] == pytest.approx(ladder[0]["seconds"] / rung["seconds"])
            assert rung["achieved_tflops"] > 0 and 0 < rung["fraction_of_peak"]
            assert rung["accuracy"]["max_abs_error"] >= 0
        assert ladder[-1]["precision"] == "bf16" and ladder[-1]["speedup_over_previous"] == pytest.approx(
            ladder[-2]["seconds"] / ladder[-1]["seconds"]
        )
        assert ladder[-1]["accuracy"]["psnr_db"] > 30
        # the model stage is the fp32 rung with every optimisation (precision auto is fp32 on the CPU)
        model = next(stage for stage in run["stages"] if stage["stage"] == "model")
        assert run["precision"] == "fp32" and model["seconds"] == ladder[2]["seconds"]
        throughput = run["model_throughput"]
        width, height = (int(v) for v in run["size"].split("x"))
        work = throughput["macs_per_pixel"] * 2 * width * height
        assert throughput["achieved_tflops"] == pytest.approx(work * model["frames_per_second"] / 1e12)
        achieved, peak = throughput["achieved_tflops"], throughput["peak_tflops"]
        assert throughput["fraction_of_peak"] == pytest.approx(achieved / peak)
        assert run["peak_memory"]["process_max_rss_bytes"] > 0 and run["peak_memory"]["cuda_model_bytes"] is None


def test_environment_names_the_machine_and_software(report):
    environment = report[0]["environment"]
    assert environment["device"] == "cpu" and environment["cpu"]["cores_available"] >= 1
    assert {"torch", "av", "ffmpeg", "ffmpeg_libraries", "x265", "python"} <= environment["software"].keys()
    assert environment["software"]["torch"] == torch.__version__
    assert environment["threads"]["torch_intra_op"] >= 1


def test_markdown_has_the_stage_and_ladder_tables_for_every_size(report):
    markdown = report[1]
    for header in ("| stage | frames/s |", "| rung | frames/s |"):
        assert markdown.count(header) == 2
    assert "End to end" in markdown and "TFLOP/s" in markdown and "+ bf16 autocast" in markdown


def test_peaks_come_from_the_datasheet_table_by_precision_or_the_override():
    assert _cuda_peak("NVIDIA H100 80GB HBM3", "bf16").tflops == 989.5
    assert _cuda_peak("NVIDIA H100 PCIe", "fp16").tflops == 756.5
    assert _cuda_peak("NVIDIA L40S", "bf16").tflops == 366.5  # not the L4
    assert _cuda_peak("NVIDIA A100-SXM4-80GB", "fp32").tflops in (19.5, 156.0)
    assert _cuda_peak("Some Future GPU", "bf16").tflops is None
    assert device_peak(torch.device("cpu"), "fp32", peak_tflops=1.5).tflops == 1.5


def test_bench_refuses_bad_sizes_and_too_few_frames(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--size", "63x48"])
    assert "even" in capsys.readouterr().err
    assert main(["bench", "--size", "64x48", "--frames", "2"]) == 2
    assert "at least 3" in capsys.readouterr().err


def test_compile_rung_is_timed_against_the_same_rung_eager_and_checked_against_fp32_eager():
    """One compile of a tiny DSLNet on the CPU (tens of seconds): the rung builds on the top
    rung of the product's precision, its output stays within 1e-4 of the baseline's, and the
    model stage's output is the eager top's."""
    torch.manual_seed(0)
    model = build_dslnet("M7", width=8, condition_channels=8).eval()
    frames = list(torch.rand(4, 32, 48, 3))
    rows, chosen = run_ladder(model, torch.device("cpu"), frames, window_plan(4, 2), 2, None, 1.0, "fp32")
    names = [row["name"] for row in rows]
    assert names[-1] == "+ torch.compile (fp32)" and "+ bf16 autocast" in names
    top, compiled = rows[names.index("+ batch 2")], rows[-1]
    assert compiled["compile"] and not top["compile"] and compiled["precision"] == "fp32"
    assert {k: v for k, v in compiled.items() if k in ("reuse", "batch_size", "channels_last")} == {
        "reuse": True,
        "batch_size": 2,
        "channels_last": False,
    }
    assert compiled["speedup_over_previous"] == pytest.approx(top["seconds"] / compiled["seconds"])
    assert compiled["accuracy"]["max_abs_error"] <= 1e-4
    assert compiled["accuracy"]["psnr_db"] is None or compiled["accuracy"]["psnr_db"] > 80
    eager, _ = run_ladder(model, torch.device("cpu"), frames, window_plan(4, 2), 2, None, 1.0, "fp32", compile=False)
    assert "+ torch.compile (fp32)" not in [row["name"] for row in eager]
    assert chosen.shape == (4, 32, 48, 3)


def test_no_ladder_times_the_product_path_only(tmp_path):
    weights = tmp_path / "tiny.pt"
    save_checkpoint(build_dslnet("M7", width=8, condition_channels=8), weights)
    argv = ["bench", "--size", "32x16", "--frames", "3", "--weights", str(weights), "--device", "cpu"]
    assert main([*argv, "--preset", "ultrafast", "--no-ladder", "--json", str(tmp_path / "b.json")]) == 0
    (run,) = json.loads((tmp_path / "b.json").read_text())["runs"]
    assert run["ladder"] == []
    assert [s["stage"] for s in run["stages"]] == STAGES and run["model_throughput"]["achieved_tflops"] > 0
