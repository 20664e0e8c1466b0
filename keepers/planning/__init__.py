"""keepers.planning"""
