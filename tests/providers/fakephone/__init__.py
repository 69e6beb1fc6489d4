"""FakePhone: a fake phone system on loopback and its provider class, for the seam tests."""
