"""keepers.runtime"""
