/// A single byte range of a `Range: bytes=` request (RFC 9110 §14.2), resolved against a length.
public enum HTTPByteRange: Sendable, Hashable {
    /// The range to send, within the representation: answer `206` with `Content-Range`.
    case satisfiable(ClosedRange<Int>)
    /// No byte of it exists: answer `416` with `Content-Range: bytes */length`.
    case unsatisfiable
    /// Not a single byte range this server serves (another unit, several ranges, bad syntax): ignore
    /// it and answer `200` with the whole representation, as RFC 9110 allows.
    case ignored

    /// Resolves a `Range` value (`bytes=a-b`, `bytes=a-`, `bytes=-k`) against a representation of
    /// `length` bytes.
    public init(_ value: String, length: Int) {
        let trimmed = value.trimmingSpaces
        guard trimmed.lowercased().hasPrefix("bytes="), length >= 0 else {
            self = .ignored
            return
        }
        let spec = trimmed.dropFirst(6).trimmingSpaces
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else {
            self = .ignored
            return
        }
        let first = spec[..<dash].trimmingSpaces, last = spec[spec.index(after: dash)...].trimmingSpaces
        let digits = { (text: Substring) in !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        if first.isEmpty {
            // A suffix: the last k bytes.
            guard digits(last), let k = Int(last) else {
                self = .ignored
                return
            }
            self = k == 0 || length == 0 ? .unsatisfiable : .satisfiable(max(0, length - k)...(length - 1))
            return
        }
        guard digits(first), let start = Int(first) else {
            self = .ignored
            return
        }
        var end = length - 1
        if !last.isEmpty {
            guard digits(last), let stated = Int(last), stated >= start else {
                self = .ignored
                return
            }
            end = min(stated, length - 1)
        }
        self = start < length ? .satisfiable(start...end) : .unsatisfiable
    }
}
