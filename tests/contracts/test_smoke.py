def test_stablecoin__mint__balance(project, deployer, alice):
    token = deployer.deploy(project.TestStablecoin, "Test USD", "tUSD", 6)
    token.mint(alice, 10**6, sender=deployer)
    assert token.balanceOf(alice) == 10**6
    assert token.decimals() == 6
