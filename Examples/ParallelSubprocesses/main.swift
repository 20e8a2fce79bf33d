// Tutorial 8: several subprocesses run in parallel, their outputs collected
// (asyncio.create_subprocess_exec + gather).
import AsyncIO

try EventLoop.run { loop in
    let start = loop.now
    // Three commands that each take 0.5 s: together they take 0.5 s, not 1.5 s.
    let commands = [
        ("first", "sleep 0.5; echo one"),
        ("second", "sleep 0.5; echo two"),
        ("third", "sleep 0.5; echo three; echo 'to stderr' >&2"),
    ]
    let outputs = try await withThrowingTaskGroup(of: (String, String, Int32?).self) { group in
        for (name, script) in commands {
            group.addTask(executorPreference: loop) {
                let child = try ChildProcess.shell(script, stdout: .pipe, stderr: .pipe)
                let (out, err) = try await child.communicate()
                let status = try await child.wait()
                let text = String(decoding: out, as: UTF8.self) + String(decoding: err, as: UTF8.self)
                return (name, text.split(separator: "\n").joined(separator: " + "), status.returnCode)
            }
        }
        var collected: [String: (String, Int32?)] = [:]
        for try await (name, output, code) in group { collected[name] = (output, code) }
        return collected
    }
    for (name, _) in commands {
        let (output, code) = outputs[name]!
        print("\(name): \(output) (exit \(code.map(String.init) ?? "signal"))")
    }
    let elapsed = start.duration(to: loop.now)
    print(elapsed < .milliseconds(1200) ? "ran in parallel" : "took \(elapsed): not parallel")
}
