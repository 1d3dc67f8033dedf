import os
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = "lepton_perception"
# The default detector weights, when the shared data is beside the source tree (or in $LEPTON_SHARED),
# are installed into share/lepton_perception/models so `ros2 run` / `ros2 launch` find them from any
# working directory (ros/params.py resolve_default_model).
_shared = Path(os.environ.get("LEPTON_SHARED") or Path(__file__).resolve().parent.parent / "shared")
_here = Path(__file__).resolve().parent
_models = [os.path.relpath(p, _here) for p in [_shared / "models" / "yolox_nano.onnx"] if p.is_file()]

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={package_name: ["models/*.safetensors", "models/*.json", "models/*.sha256"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*")),
        ("share/" + package_name + "/models", _models),
    ],
    install_requires=["setuptools"],
    # pip install lepton_perception[fleet]: lepton process --ray (pyarrow/pandas are in requirements.txt).
    extras_require={"fleet": ["ray==2.60.0"]},
    zip_safe=False,
    maintainer="lepton_perception maintainers",
    maintainer_email="maintainers@lepton-perception.dev",
    description="Camera-based detection, tracking and trajectory prediction for ROS 2.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "lepton = lepton_perception.tools.cli:main",
            "perception_node = lepton_perception.ros.node_main:main",
        ],
    },
)
