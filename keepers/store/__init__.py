"""keepers.store"""
