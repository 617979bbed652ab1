"""TLS to the PACS: the CA bundle chosen is the one used, whatever the environment says (#14).

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace a session's
CA bundle (``trust_env``); netlm turns that off.  Against a real Orthanc
serving HTTPS with a certificate of a test CA made here: without that CA the
certificate is refused, with it accepted — with the environment variable
pointing at another CA's bundle, and the other way round.
"""

from __future__ import annotations

import pytest

from netlm.cli import main
from netlm.pacs import PacsConfig, PacsError, find_studies

from .conftest import TlsOrthanc


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_ca_bundle_given_is_not_overridden_by_the_environment(
    orthanc_tls: TlsOrthanc, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    url = f"{orthanc_tls.url}/dicom-web"
    assert url.startswith("https://127.0.0.1:")
    monkeypatch.setenv(variable, str(orthanc_tls.other_ca))
    # With the test CA: verified, although the environment names another bundle.
    assert find_studies(PacsConfig(url=url, verify=orthanc_tls.ca), patient_id="NOBODY") == []
    # Without it (the default authorities): refused, naming the certificate.
    with pytest.raises(PacsError, match="CERTIFICATE_VERIFY_FAILED"):
        find_studies(PacsConfig(url=url, max_attempts=1), patient_id="NOBODY")
    # With the other CA: refused.
    with pytest.raises(PacsError, match="CERTIFICATE_VERIFY_FAILED"):
        find_studies(PacsConfig(url=url, verify=orthanc_tls.other_ca, max_attempts=1))


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_environment_does_not_make_an_unknown_certificate_trusted(
    orthanc_tls: TlsOrthanc, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    url = f"{orthanc_tls.url}/dicom-web"
    monkeypatch.setenv(variable, str(orthanc_tls.ca))  # would have verified it
    with pytest.raises(PacsError, match="CERTIFICATE_VERIFY_FAILED"):
        find_studies(PacsConfig(url=url, max_attempts=1), patient_id="NOBODY")
    with pytest.raises(PacsError, match="CERTIFICATE_VERIFY_FAILED"):
        find_studies(PacsConfig(url=url, verify=orthanc_tls.other_ca, max_attempts=1))
    # Not verifying at all stays possible, when asked for.
    assert find_studies(PacsConfig(url=url, verify=False), patient_id="NOBODY") == []


def test_the_command_line_takes_its_ca_bundle_over_the_environment(
    orthanc_tls: TlsOrthanc, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{orthanc_tls.url}/dicom-web"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(orthanc_tls.other_ca))
    args = ["pacs", "find", "--url", url, "--patient-id", "NOBODY", "-f", "json"]
    assert main([*args, "--ca-bundle", str(orthanc_tls.ca)]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert main(args) != 0
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err
