import AsyncIO
import AsyncIOSystem

/// Certificates for TLS tests, made once per test process with the `openssl` command-line tool (on
/// every machine of this kind) in a fresh directory: a root CA, an intermediate, and leaves that each
/// make one thing happen.
///
/// | file | what it is |
/// |---|---|
/// | `ca.pem` | the test root CA |
/// | `chain.pem`, `leaf.key` | `localhost` / `127.0.0.1` / `::1`, issued by the intermediate, with the intermediate |
/// | `leaf.pem` | that leaf alone (a server that sends it cannot be verified: the intermediate is missing) |
/// | `other.pem`/`.key` | `other.example`, issued by the root (host name mismatch for `localhost`) |
/// | `iponly.pem`/`.key` | only `IP:127.0.0.1` in subjectAltName |
/// | `expired.pem`/`.key` | `localhost`, valid in January 2020 only |
/// | `notyet.pem`/`.key` | `localhost`, valid from 2099 |
/// | `rogue.pem`/`.key` | `localhost`, issued by a CA nobody trusts (`rogueca.pem`) |
/// | `client.pem`/`.key` | a client certificate (`CN=client`), issued by the root |
public struct TestPKI: Sendable {
    /// The directory holding the files.
    public let directory: String

    /// The path of `name` in ``directory``.
    public func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// The contents of `name`.
    public func contents(_ name: String) throws -> [UInt8] {
        try TestFiles.read(path(name))
    }

    private static let made = LockedState<Task<TestPKI, any Error>?>(nil)

    /// The process's test PKI, made on first use (about half a second) and shared by every test.
    ///
    /// - Throws: when `openssl` fails, with its output.
    ///
    /// ### Cancellation
    /// Only the wait stops; the certificates are still made.
    public static func shared() async throws -> TestPKI {
        let task = made.withLock { task in
            if let task { return task }
            let making = Task { try await runBlocking { try TestPKI.make() } }
            task = making
            return making
        }
        return try await task.value
    }

    private static func make() throws -> TestPKI {
        let directory = "/tmp/aio-test-pki-\(UInt64.random(in: 0...UInt64.max))"
        try removeWhenThisProcessEnds(directory)
        let pid: Int32
        do {
            pid = try ProcessOps.spawn(
                executable: "/bin/sh", arguments: ["-c", script, "make-pki", directory], environment: nil,
                workingDirectory: nil, stdin: .null, stdout: .null, stderr: .null, newProcessGroup: false
            )
        } catch {
            throw TestPKIError(message: "cannot start /bin/sh to make the test certificates: \(error)")
        }
        let status = ProcessOps.reapBlocking(pid)
        guard status.code == 0 else {
            let log = (try? TestFiles.read("\(directory)/make.log")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            throw TestPKIError(message: "openssl could not make the test certificates (\(status)):\n\(log)")
        }
        return TestPKI(directory: directory)
    }

    /// Starts a shell that removes `directory` once this process has ended, however it ends (a normal
    /// exit, a crash, `SIGKILL`): the shell reads a pipe to its end, and the only write end is this
    /// process's, which the kernel closes when the process goes. The shell runs in a process group of its
    /// own, so an interrupt sent to the test run's group does not stop it before it has removed the files.
    private static func removeWhenThisProcessEnds(_ directory: String) throws {
        do {
            let pipe = try FileDescriptorOps.makePipe()
            defer { try? FileDescriptorOps.close(pipe.read) }
            // The shell's `cat` must block on the pipe; the write end stays open (and close-on-exec, so no
            // other child holds it) until the process ends: that is what the shell waits for. If the
            // shell cannot start, nothing waits on it: it is closed.
            do {
                try FileDescriptorOps.setBlocking(pipe.read)
                _ = try ProcessOps.spawn(
                    executable: "/bin/sh", arguments: ["-c", #"cat >/dev/null; rm -rf -- "$1""#, "remove-pki", directory],
                    environment: nil, workingDirectory: nil, stdin: .descriptor(pipe.read), stdout: .null, stderr: .null,
                    newProcessGroup: true
                )
            } catch {
                try? FileDescriptorOps.close(pipe.write)
                throw error
            }
        } catch {
            throw TestPKIError(message: "cannot start the shell that removes the test certificates afterwards: \(error)")
        }
    }

    /// The shell script that makes the files (run with the directory as `$1`).
    private static let script = #"""
        set -eu
        mkdir -p "$1" && cd "$1"
        exec >make.log 2>&1
        key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
        ca() { # name subject
            key "$1"
            openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        }
        leaf() { # name issuer subjectAltName commonName extendedKeyUsage
            key "$1"
            openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$4"
            printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
                "$5" "$3" > "$1.ext"
            openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days 825 -extfile "$1.ext"
        }
        ca ca "AsyncIO Test Root CA"
        key int
        openssl req -new -key int.key -out int.csr -subj "/CN=AsyncIO Test Intermediate CA"
        printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > int.ext
        openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out int.pem -days 3650 -extfile int.ext
        leaf leaf int "DNS:localhost,IP:127.0.0.1,IP:::1" localhost serverAuth
        cat leaf.pem int.pem > chain.pem
        leaf other ca "DNS:other.example" other.example serverAuth
        leaf iponly ca "IP:127.0.0.1" 127.0.0.1 serverAuth
        leaf client ca "DNS:client.example" client clientAuth
        ca rogueca "Rogue CA"
        leaf rogue rogueca "DNS:localhost,IP:127.0.0.1" localhost serverAuth
        mkdir -p db && : > db/index.txt && echo 1000 > db/serial
        printf '[ca]\ndefault_ca=test\n[test]\ndatabase=db/index.txt\nserial=db/serial\nnew_certs_dir=db\ncertificate=ca.pem\nprivate_key=ca.key\ndefault_md=sha256\npolicy=any\nunique_subject=no\ncopy_extensions=copy\n[any]\ncommonName=supplied\n' > ca.cnf
        dated() { # name notBefore notAfter
            key "$1"
            openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
            openssl ca -batch -config ca.cnf -in "$1.csr" -out "$1.pem" -startdate "$2" -enddate "$3" -notext
        }
        dated expired 20200101000000Z 20200201000000Z
        dated notyet 20990101000000Z 20991231000000Z
        """#
}

/// Why the test certificates could not be made.
public struct TestPKIError: Error, CustomStringConvertible {
    /// What went wrong, with openssl's output.
    public let message: String
    public var description: String { message }
}

/// Whole-file reads for tests.
enum TestFiles {
    static func read(_ path: String) throws -> [UInt8] {
        let fd = try FileOps.open(path, mode: .read)
        defer { try? FileDescriptorOps.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try FileOps.read(fd, into: $0) }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }
}
