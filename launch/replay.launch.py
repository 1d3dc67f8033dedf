"""Replay a bag through the perception node with simulated time.

    ros2 launch lepton_perception replay.launch.py bag:=/path/to/bag rate:=1.0 loop:=false

Runs `ros2 bag play --clock` and the perception launch with use_sim_time:=true, so every stamp and
timer follows the bag. Without rosbag2, `lepton bag play BAG --clock` does the same job.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription
from launch.conditions import IfCondition, UnlessCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("lepton_perception")
    args = [
        DeclareLaunchArgument("bag", description="bag directory to replay"),
        DeclareLaunchArgument("rate", default_value="1.0"),
        DeclareLaunchArgument("loop", default_value="false"),
        DeclareLaunchArgument("cameras", default_value="['/camera']"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "perception.yaml")),
        DeclareLaunchArgument("namespace", default_value="perception"),
    ]
    perception = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "perception.launch.py")),
        launch_arguments={
            "use_sim_time": "true",
            "cameras": LaunchConfiguration("cameras"),
            "params_file": LaunchConfiguration("params_file"),
            "namespace": LaunchConfiguration("namespace"),
        }.items(),
    )
    play = [
        "ros2",
        "bag",
        "play",
        LaunchConfiguration("bag"),
        "--clock",
        "--rate",
        LaunchConfiguration("rate"),
    ]
    return LaunchDescription(
        [
            *args,
            perception,
            ExecuteProcess(cmd=play, output="screen", condition=UnlessCondition(LaunchConfiguration("loop"))),
            ExecuteProcess(
                cmd=[*play, "--loop"], output="screen", condition=IfCondition(LaunchConfiguration("loop"))
            ),
        ]
    )
