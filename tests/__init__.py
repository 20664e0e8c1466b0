"""The test tree as a package, so ``tests.support`` resolves to this folder (a stray ``tests``
package in site-packages would win over a namespace package) and pytest puts the repository
root, not tests/, on sys.path."""
