"""Fleet-scale offline processing, ROS-free: inputs, content keys, safe outputs, manifests, executors.

The per-recording work (a bag or video through the perception runner) lives in
``lepton_perception.tools.process``; this package only plans, schedules, records and never touches the
inputs. It imports no rclpy, so it can run on a Ray head node without ROS.
"""
