"""Predictor configuration: importable without torch (the RNN module is the only torch user)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lepton_perception.core.prediction.vehicle import VehicleModelConfig
from lepton_perception.core.schema import param

RUNTIME_MODEL = "predictor_all"  # shipped weights trained on every ETH/UCY scene (weights.py)


@dataclass(frozen=True)
class PredictorConfig:
    model_name: str = param(RUNTIME_MODEL, "RNN weights name in the models folder (pedestrians, cyclists)")
    models_dir: str = param("", "folder of the RNN weights; empty: the package's models folder")
    device: str = param("auto", "torch device of the RNN: auto (CUDA when present), cpu, cuda, cuda:N")
    min_history_points: int = param(
        3, "history samples (with the current state) a pedestrian needs for the RNN", lo=2, hi=100
    )
    min_history_s: float = param(
        0.8,
        "history span a pedestrian needs for the RNN; shorter gets constant velocity",
        unit="s",
        lo=0.01,
        hi=10.0,
    )
    max_extrapolation_s: float = param(
        1.0, "a track last seen longer ago than this gets constant velocity", unit="s", lo=0.0, hi=10.0
    )
    vehicle_model: Literal["singer", "cv"] = param(
        "singer",
        "vehicle paths: singer (filtered manoeuvring model, docs/prediction.md) or cv",
        choices=("singer", "cv"),
    )
    vehicle_position_noise_m: float = param(
        0.3, "std-dev of a vehicle history position (tracker ground noise)", unit="m", lo=0.01, hi=5.0
    )
    vehicle_accel_std_mps2: float = param(
        0.5, "std-dev of a vehicle's acceleration (Singer model)", unit="m/s^2", lo=0.01, hi=10.0
    )
    vehicle_manoeuvre_tau_s: float = param(
        1.0, "time constant with which a vehicle manoeuvre decays (Singer model)", unit="s", lo=0.1, hi=60.0
    )
    vehicle_stationary_speed_mps: float = param(
        0.5, "a vehicle slower than this gets a path that stays put", unit="m/s", lo=0.0, hi=3.0
    )
    cpu_threads: int = param(
        1, "torch CPU threads per calling thread (1 measured fastest for this model), 0: keep", lo=0, hi=64
    )

    def __post_init__(self) -> None:
        if self.vehicle_model not in ("singer", "cv"):
            raise ValueError(f"vehicle_model must be 'singer' or 'cv', got {self.vehicle_model!r}")
        if self.min_history_points < 2 or self.min_history_s <= 0:
            raise ValueError(f"invalid predictor config {self}")

    def vehicle(self) -> VehicleModelConfig:
        return VehicleModelConfig(
            position_noise_m=self.vehicle_position_noise_m,
            accel_std_mps2=self.vehicle_accel_std_mps2,
            manoeuvre_tau_s=self.vehicle_manoeuvre_tau_s,
            stationary_speed_mps=self.vehicle_stationary_speed_mps,
        )
