"""Offline evaluation of the perception stack on public data sets (ROS-free)."""
