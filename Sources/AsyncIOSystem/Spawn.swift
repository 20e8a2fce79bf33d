import CAsyncIOLinux
import Glibc

/// Starting and reaping child processes: `posix_spawn` and `pidfd`.
public enum ProcessOps {
    /// What a child's standard descriptor is connected to.
    public enum Descriptor: Sendable {
        /// The parent's own descriptor.
        case inherit
        /// `/dev/null`.
        case null
        /// This descriptor of the parent (a pipe end), duplicated into the child.
        case descriptor(Int32)
        /// A file, opened for reading (stdin) or created/truncated for writing (stdout, stderr).
        case file(String)
        /// The same as the child's stdout (stderr only).
        case stdout
    }

    /// Starts `executable` (looked up in `PATH` when it has no `/`) with `arguments` (not including
    /// argv[0]) and returns its pid.
    ///
    /// The child starts with an empty signal mask and default signal dispositions, in a new process group
    /// if `newProcessGroup`, and with no descriptors but its standard three: every other one of the
    /// parent's is closed in the child, close-on-exec or not (Python's `close_fds=True`).
    ///
    /// - Throws: the `errno` from `posix_spawn` (`ENOENT`: not found, `EACCES`: not executable).
    ///
    /// The corresponding C function is `posix_spawn`.
    public static func spawn(
        executable: String,
        arguments: [String],
        environment: [String: String]?,
        workingDirectory: String?,
        stdin: Descriptor,
        stdout: Descriptor,
        stderr: Descriptor,
        newProcessGroup: Bool
    ) throws(Errno) -> Int32 {
        var actions: [Int32] = []
        var paths: [String] = []
        var pathFlags: [Int32] = []
        func plan(_ descriptor: Descriptor, onto target: Int32) {
            switch descriptor {
            case .inherit:
                break
            case .null:
                actions += [1, target, Int32(paths.count)]
                paths.append("/dev/null")
                pathFlags.append(target == 0 ? O_RDONLY : O_WRONLY)
            case .descriptor(let fd):
                actions += [0, fd, target]
            case .file(let path):
                actions += [1, target, Int32(paths.count)]
                paths.append(path)
                pathFlags.append(target == 0 ? O_RDONLY : (O_WRONLY | O_CREAT | O_TRUNC))
            case .stdout:
                actions += [0, 1, target]
            }
        }
        plan(stdin, onto: 0)
        plan(stdout, onto: 1)
        plan(stderr, onto: 2)

        let argv = [executable] + arguments
        let envp = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        var pid: Int32 = 0
        let rc = withCStrings(argv) { argvPointer in
            withOptionalCStrings(envp) { envPointer in
                withCStrings(paths) { pathPointer in
                    actions.withUnsafeBufferPointer { actionPointer in
                        pathFlags.withUnsafeBufferPointer { flagPointer in
                            let pathsConst = UnsafeRawPointer(pathPointer).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
                            return casyncio_spawn(
                                &pid, executable, executable.contains("/") ? 0 : 1, argvPointer, envPointer,
                                actionPointer.baseAddress, Int32(actions.count / 3), pathsConst,
                                flagPointer.baseAddress, workingDirectory, newProcessGroup ? 1 : 0
                            )
                        }
                    }
                }
            }
        }
        if rc != 0 { throw Errno(rawValue: rc) }
        return pid
    }

    /// A descriptor that becomes readable when process `pid` exits (close-on-exec).
    ///
    /// The corresponding C function is `pidfd_open`.
    public static func pidfdOpen(_ pid: Int32) throws(Errno) -> Int32 {
        let fd = try systemCall("pidfd_open") { casyncio_pidfd_open(pid, 0) }
        DescriptorLedger.record(fd)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        try FileDescriptorOps.setNonBlocking(fd)
        return fd
    }

    /// How a reaped child ended: `(exit code, nil)` or `(nil, signal)`; nil if it is still running.
    ///
    /// The corresponding C function is `waitpid` (`WNOHANG`).
    public static func reap(_ pid: Int32) throws(Errno) -> (code: Int32?, signal: Int32?)? {
        var status: Int32 = 0
        let rc = try systemCall("waitpid") { waitpid(pid, &status, WNOHANG) }
        if rc == 0 { return nil }
        let signal = status & 0x7f
        if signal == 0 { return ((status >> 8) & 0xff, nil) }
        return (nil, signal)
    }

    /// Waits (blocking the thread) for child `pid` to exit and reaps it. Use only for a child that was
    /// just sent `SIGKILL`.
    ///
    /// The corresponding C function is `waitpid`.
    public static func reapBlocking(_ pid: Int32) -> (code: Int32?, signal: Int32?) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && Glibc.errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? ((status >> 8) & 0xff, nil) : (nil, signal)
    }

    /// The processes of process group `group` that are alive (not zombies), read from `/proc`.
    public static func livingMembers(ofGroup group: Int32) -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var members: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name), let file = fopen("/proc/\(pid)/stat", "r") else { continue }
            var buffer = [CChar](repeating: 0, count: 512)
            let line = fgets(&buffer, Int32(buffer.count), file) != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            fclose(file)
            // Fields after "(comm)": state, ppid, pgrp, ...
            guard let close = line.lastIndex(of: ")") else { continue }
            let fields = line[line.index(after: close)...].split(separator: " ")
            if fields.count > 2, fields[0] != "Z", Int32(fields[2]) == group { members.append(pid) }
        }
        return members
    }

    /// Sends `signal` to process `pid`, or to its whole process group when `group` is true.
    /// A process that is already gone is not an error.
    ///
    /// The corresponding C function is `kill`.
    public static func send(_ signal: Int32, to pid: Int32, group: Bool) throws(Errno) {
        if Glibc.kill(group ? -pid : pid, signal) == -1 && Glibc.errno != ESRCH { throw Errno.current }
    }

    /// Ignores `SIGPIPE` process-wide, so writing to a pipe whose reader has gone fails with `EPIPE`
    /// instead of ending the process (what CPython does at start-up). Children get the default back.
    public static func ignoreBrokenPipeSignal() { _ = signal(SIGPIPE, SIG_IGN) }

    /// `SIGTERM`.
    public static let terminateSignal = SIGTERM
    /// `SIGKILL`.
    public static let killSignal = SIGKILL
    /// `SIGINT`.
    public static let interruptSignal = SIGINT
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStrings<R>(_ strings: [String]?, _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R) -> R {
    guard let strings else { return body(nil) }
    return withCStrings(strings) { body($0) }
}
