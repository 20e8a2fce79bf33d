import CAsyncIOLinux
import Glibc

/// Facts about this process, read from `/proc`, for leak checks in tests and tools.
public enum ProcessStats {
    /// How many file descriptors are open (entries of `/proc/self/fd`, not counting the one used to list it).
    public static func openFileDescriptorCount() -> Int { count(entriesOf: "/proc/self/fd") - 1 }

    /// How many threads the process has (entries of `/proc/self/task`).
    public static func threadCount() -> Int { count(entriesOf: "/proc/self/task") }

    /// CPU time this process has used, user and system, in seconds (`getrusage`).
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    private static func count(entriesOf path: String) -> Int {
        guard let dir = opendir(path) else { return -1 }
        defer { closedir(dir) }
        var n = 0
        while let entry = readdir(dir) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                raw[0] == UInt8(ascii: ".") && (raw[1] == 0 || (raw[1] == UInt8(ascii: ".") && raw[2] == 0))
            }
            if !isDot { n += 1 }
        }
        return n
    }
}

/// The system's monotonic clock.
public enum MonotonicClock {
    /// `CLOCK_MONOTONIC` now, in nanoseconds.
    @inlinable
    public static func nanoseconds() -> Int64 { casyncio_monotonic_ns() }
}

/// The system's wall clock (`CLOCK_REALTIME`), for timestamps such as HTTP's `Date`.
public enum WallClock {
    /// Whole seconds since the Unix epoch.
    public static func secondsSinceEpoch() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec)
    }

    /// Whole seconds since the Unix epoch, and the nanoseconds into the current second.
    public static func now() -> (seconds: Int64, nanoseconds: Int64) {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return (Int64(spec.tv_sec), Int64(spec.tv_nsec))
    }
}

/// The calling thread's event-loop slot (a C thread-local, read through an opaque call).
package enum CurrentLoopSlot {
    /// The pointer stored by ``set(_:)`` on this thread, or nil.
    @inlinable
    package static func get() -> UnsafeMutableRawPointer? { casyncio_current_loop() }

    /// Stores `pointer` for the calling thread.
    @inlinable
    package static func set(_ pointer: UnsafeMutableRawPointer?) { casyncio_set_current_loop(pointer) }
}

/// Facts about the machine.
public enum SystemInfo {
    /// Online processor cores (`sysconf(_SC_NPROCESSORS_ONLN)`), at least 1.
    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The running kernel's version, major and minor (`uname`), or (0, 0) if it cannot be read.
    public static let kernelVersion: (major: Int, minor: Int) = {
        var names = utsname()
        guard uname(&names) == 0 else { return (0, 0) }
        let release = withUnsafeBytes(of: &names.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return numbers.count == 2 ? (numbers[0], numbers[1]) : (0, 0)
    }()

    /// Whether the kernel is `major.minor` or later.
    public static func kernelIsAtLeast(_ major: Int, _ minor: Int) -> Bool {
        kernelVersion.major > major || (kernelVersion.major == major && kernelVersion.minor >= minor)
    }

    /// Whether this process runs under the thread sanitizer (its runtime is loaded).
    public static let isThreadSanitized: Bool = dlsym(nil, "__tsan_init") != nil  // nil is RTLD_DEFAULT in glibc
}

/// The process environment.
public enum SystemEnvironment {
    /// The value of environment variable `name`, or nil.
    public static func value(of name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// Resource limits of this process.
public enum ResourceLimits {
    /// Raises the soft limit on open descriptors to `wanted` (at most the hard limit) and returns the
    /// new soft limit.
    ///
    /// The corresponding C function is `setrlimit` (`RLIMIT_NOFILE`).
    @discardableResult
    public static func raiseOpenFileLimit(to wanted: Int) -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let target = min(rlim_t(wanted), limit.rlim_max)
        if limit.rlim_cur < target {
            limit.rlim_cur = target
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(limit.rlim_cur)
    }
}
