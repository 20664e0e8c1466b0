"""keepers.bots"""
