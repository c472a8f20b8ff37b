"""Test fixture for launch/get-cifar10.sh: builds small CIFAR-10-shaped archives and serves a
directory over HTTP on 127.0.0.1 with byte-range support (so a partial download can resume).

  download_server.py make DIR    writes DIR/good.tar.gz, DIR/dotdot.tar.gz, DIR/link.tar.gz
  download_server.py serve DIR   serves DIR on 127.0.0.1, an ephemeral port, printed on stdout,
                                 until its standard input closes
"""
import http.server
import io
import os
import re
import sys
import tarfile
import threading

MEMBERS = ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]


def record_bytes(index):
    # Two CIFAR-10 records (label byte + 3072 pixel bytes) whose first pixel says which file they
    # are in; the rest is random, so the archive does not compress to a few hundred bytes.
    def record(label, first):
        return bytes([label, first]) + os.urandom(3071)

    return record(index % 10, index) + record((index + 1) % 10, index + 1)


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make(directory):
    with tarfile.open(os.path.join(directory, "good.tar.gz"), "w:gz") as tar:
        for i, name in enumerate(MEMBERS):
            add(tar, "cifar-10-batches-bin/" + name, record_bytes(i))
        add(tar, "cifar-10-batches-bin/readme.html", b"not a batch")
        add(tar, "cifar-10-batches-bin/batches.meta.txt", b"airplane\n")
    with tarfile.open(os.path.join(directory, "dotdot.tar.gz"), "w:gz") as tar:
        for i, name in enumerate(MEMBERS):
            add(tar, "cifar-10-batches-bin/" + name, record_bytes(i))
        add(tar, "cifar-10-batches-bin/../../escaped.txt", b"outside")
    with tarfile.open(os.path.join(directory, "link.tar.gz"), "w:gz") as tar:
        for i, name in enumerate(MEMBERS[1:]):
            add(tar, "cifar-10-batches-bin/" + name, record_bytes(i))
        link = tarfile.TarInfo("cifar-10-batches-bin/" + MEMBERS[0])
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        size = os.path.getsize(path)
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        start = int(match.group(1)) if match else 0
        if start >= size and match:
            self.send_response(416)
            self.send_header("Content-Range", "bytes */%d" % size)
            self.end_headers()
            return None
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206 if match else 200)
        if match:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        return f


def serve(directory):
    # Exits when standard input closes: the test that started it is gone, however it ended.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    os.chdir(directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    {"make": make, "serve": serve}[sys.argv[1]](sys.argv[2])
