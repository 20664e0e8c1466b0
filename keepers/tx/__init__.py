"""keepers.tx"""
