"""``mcdiag lab`` command line without building anything (runs as any user)."""

from __future__ import annotations

import argparse

import pytest

from mcdiag.lab import FAULTS, Lab, LabError, cli, netns


def _parse(*argv):
    parser = argparse.ArgumentParser(prog="mcdiag")
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def test_register_sets_func_for_every_subcommand(tmp_path):
    for argv in (["up"], ["up", "--provider", "netmaker"], ["status", "--json"], ["break", "block-vxlan"],
                 ["break", "drop-return", "--cluster", "cluster1"], ["heal"], ["down"]):
        args = _parse("lab", *argv, "--dir", str(tmp_path))
        assert callable(args.func) and args.dir == str(tmp_path)
    assert _parse("lab", "up").dir == "reports/lab"


def test_unknown_fault_and_provider_are_usage_errors():
    with pytest.raises(SystemExit) as e:
        _parse("lab", "break", "unplug-everything")
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        _parse("lab", "up", "--provider", "calico")
    assert e.value.code == 2


@pytest.mark.parametrize("sub", [["up"], ["break", "block-vxlan"], ["heal"], ["down"]])
def test_not_root_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, sub):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    rc = cli.main(["lab", *sub, "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "root" in err
    assert list(tmp_path.iterdir()) == []


def test_missing_binary_names_the_debian_package(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr(netns, "missing_binaries", lambda: {"wireguard-go": "wireguard-go", "wg": "wireguard-tools"})
    monkeypatch.setattr(cli, "missing_binaries", netns.missing_binaries)
    rc = cli.main(["lab", "up", "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "apt-get install wireguard-go wireguard-tools" in err and err.count("\n") == 1


def test_unknown_cluster_is_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert cli.main(["lab", "break", "block-vxlan", "--cluster", "nope", "--dir", str(tmp_path)]) == 2
    assert "no cluster 'nope'" in capsys.readouterr().err


def test_status_of_no_lab(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("mcdiag.lab.netns.list_netns", lambda: [])
    assert cli.main(["lab", "status", "--dir", str(tmp_path)]) == 0
    assert "no lab" in capsys.readouterr().out


def test_break_without_a_lab_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("mcdiag.lab.netns.list_netns", lambda: [])
    with pytest.raises(LabError, match="no running lab"):
        Lab(tmp_path).break_("block-vxlan")


def test_every_fault_is_documented():
    from mcdiag.lab import faults

    doc = faults.__doc__
    for name, f in FAULTS.items():
        assert f"``{name}``" in doc and f.summary


def test_lab_api_topology_accessors(tmp_path):
    lab = Lab(tmp_path)
    assert lab.cluster_names == ["cluster", "cluster1"]
    assert lab.node_netns("cluster", "gateway") == "mcdiag-cluster-gw"
    assert lab.pod_ip("cluster1") == "10.44.1.1" and lab.pod_ip("cluster1", "gateway") == "10.44.0.1"
    assert lab.service_ip("cluster") == "10.43.45.229" and lab.dns_ip("cluster1") == "10.45.0.10"
    assert lab.gateway_ip("cluster") == "198.18.1.11" and lab.gateway_ip("cluster", public=False) == "192.168.23.22"
    assert lab.kubeconfig("cluster1") == tmp_path / "cluster1.kubeconfig"
    assert lab.exported_name("cluster1") == "nginx.nginx-test.svc.clusterset.local"
    with pytest.raises(LabError):
        Lab(tmp_path, "calico")
    with pytest.raises(LabError, match="not a namespace of this lab"):
        lab.exec("mcdiag-elsewhere", ["true"])


def test_clusters_option(tmp_path):
    assert _parse("lab", "up", "--clusters", "4").clusters == 4 and _parse("lab", "up").clusters is None
    for bad in ("1", "11", "three"):
        with pytest.raises(SystemExit) as e:
            _parse("lab", "up", "--clusters", bad)
        assert e.value.code == 2
    lab = Lab(tmp_path, clusters=3)
    assert lab.cluster_names == ["cluster", "cluster1", "cluster2"] and lab.clusters == 3
    assert [c.name for c in lab.peers("cluster1")] == ["cluster", "cluster2"]
    assert lab.node_netns("cluster2", "gateway") == "mcdiag-cluster2-gw" and lab.gateway_ip("cluster2") == "198.18.3.11"
    with pytest.raises(LabError, match="2 to 10 clusters"):
        Lab(tmp_path, clusters=11)
