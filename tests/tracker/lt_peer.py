"""A libtorrent peer for the interop tests, run by the system python3 (Debian python3-libtorrent).

    /usr/bin/python3 lt_peer.py seed|download TORRENT DIR INTERFACE PORT TIMEOUT

Seeds until killed, or downloads and exits 0 once complete, after a scrape of the tracker
whose result it prints as `scrape complete=N incomplete=M`.
DHT, local discovery, UPnP, NAT-PMP and uTP are off: peers can only come from the tracker.
"""

import sys
import time

import libtorrent as lt


def main() -> int:
    mode, torrent, save, iface, port, timeout = sys.argv[1:7]
    deadline = time.monotonic() + float(timeout)
    ses = lt.session(
        {
            "listen_interfaces": f"{iface}:{port}",
            "outgoing_interfaces": iface,
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_incoming_utp": False,
            "enable_outgoing_utp": False,
            "allow_multiple_connections_per_ip": True,
            # SSRF mitigation only lets a loopback tracker be asked for /announce paths: it
            # would block the scrape (/scrape) of our loopback tracker.
            "ssrf_mitigation": False,
            "alert_mask": lt.alert.category_t.tracker_notification
            | lt.alert.category_t.error_notification,
        }
    )
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save
    if mode == "seed":
        atp.flags |= lt.torrent_flags.seed_mode
    handle = ses.add_torrent(atp)
    while time.monotonic() < deadline:
        for alert in ses.pop_alerts():
            print(f"alert {type(alert).__name__}: {alert.message()}", flush=True)
        status = handle.status()
        if mode == "download" and status.is_seeding:
            print("complete", flush=True)
            handle.scrape_tracker()
            while time.monotonic() < deadline:
                for alert in ses.pop_alerts():
                    print(f"alert {type(alert).__name__}: {alert.message()}", flush=True)
                    if isinstance(alert, lt.scrape_reply_alert):
                        print(
                            f"scrape complete={alert.complete} incomplete={alert.incomplete}",
                            flush=True,
                        )
                        return 0
                    if isinstance(alert, lt.scrape_failed_alert):
                        print(f"scrape failed: {alert.error.message()} {alert.error_message()}")
                        return 3
                time.sleep(0.1)
            return 4
        time.sleep(0.1)
    return 2


if __name__ == "__main__":
    sys.exit(main())
