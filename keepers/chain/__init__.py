"""keepers.chain"""
