import AsyncIOSystem

/// The HTTP `Date` format (IMF-fixdate, RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
public enum HTTPDate {
    /// The IMF-fixdate for `seconds` since the Unix epoch.
    public static func string(secondsSinceEpoch seconds: Int64) -> String {
        let days = Int(seconds.quotientAndRemainderFlooring(86_400).quotient)
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let weekday = ((days % 7) + 7 + 4) % 7  // 1970-01-01 was a Thursday
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(names[weekday]), \(two(day)) \(months[month - 1]) \(year) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) GMT"
    }

    /// The date now, from the wall clock.
    public static func now() -> String { string(secondsSinceEpoch: WallClock.secondsSinceEpoch()) }

    /// Seconds since the epoch of a UTC date and time (Howard Hinnant's `days_from_civil`).
    static func epochSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// An HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime forms) or a cookie's `Expires`,
    /// read with RFC 6265 §5.1.1's algorithm (tokens for the time, day, month and year in any order,
    /// two-digit years mapped to 1970–2069), as seconds since the epoch; nil if one is missing or out of
    /// range.
    static func parse(_ text: String) -> Int64? {
        let tokens = text.split { !($0.isLetter || $0.isNumber || $0 == ":") }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        var time: [Int]?, day: Int?, month: Int?, year: Int?
        for token in tokens {
            if time == nil, token.contains(":") {
                let parts = token.split(separator: ":").compactMap { Int($0) }
                if parts.count == 3 { time = parts; continue }
            }
            if day == nil, token.count <= 2, let value = Int(token) { day = value; continue }
            if month == nil, token.count >= 3, let index = months.firstIndex(of: token.prefix(3).lowercased()) {
                month = index + 1
                continue
            }
            if year == nil, (2...4).contains(token.count), let value = Int(token) {
                year = value < 70 && token.count <= 2 ? value + 2000 : value < 100 && token.count <= 2 ? value + 1900 : value
            }
        }
        guard let time, let day, let month, let year, (1...31).contains(day), year >= 1601,
              time[0] <= 23, time[1] <= 59, time[2] <= 59 else { return nil }
        return epochSeconds(year: year, month: month, day: day, hour: time[0], minute: time[1], second: time[2])
    }

    /// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day number.
    static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    fileprivate func quotientAndRemainderFlooring(_ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        var (q, r) = quotientAndRemainder(dividingBy: divisor)
        if r < 0 { q -= 1; r += divisor }
        return (q, r)
    }
}

/// A server's ``HTTPDateLineCache``, which its connections share: each writes the line into its
/// response head straight from here, with no reference to the server (through the connection's
/// unowned reference, a retain and a release a response) nor to the line's array (another pair).
/// Loop-confined, as the server is.
final class HTTPDateLine {
    /// The most bytes a line takes (`Date: ` and 29 of an IMF-fixdate, up to the year 9999, and CR LF).
    static let capacity = 37
    @exclusivity(unchecked) private var cache = HTTPDateLineCache()

    /// Appends the line for monotonic time `monotonic` (the loop's last poll) to `buffer`.
    func append(at monotonic: Int64, into buffer: inout some HTTPByteSink) {
        cache.refresh(at: monotonic, wallNow: HTTPDateLineCache.clocks)
        cache.line.withUnsafeBufferPointer { buffer.append(bytes: $0) }
    }
}

/// A server's `Date` field line, formatted once per second and read without a clock: the line is kept
/// until a monotonic time the caller already has (the loop's last poll) reaches the wall clock's next
/// second, so the wall clock is read only to format a new line. The line changes at most a loop turn
/// after the second does, and a step of the wall clock shows within a second.
struct HTTPDateLineCache {
    /// The line, `Date: …\r\n`.
    private(set) var line: [UInt8] = []
    /// When the line goes stale, in `CLOCK_MONOTONIC` nanoseconds.
    private var validUntil: Int64 = .min

    /// The line at monotonic time `monotonic`; `wallNow` (seconds since the epoch and nanoseconds into
    /// the second, with the monotonic time it was read at) is called only when the line is stale.
    mutating func line(
        at monotonic: Int64,
        wallNow: () -> (seconds: Int64, nanoseconds: Int64, monotonic: Int64)
    ) -> [UInt8] {
        refresh(at: monotonic, wallNow: wallNow)
        return line
    }

    /// Formats the line again if it is stale at `monotonic`.
    @inline(__always)
    mutating func refresh(
        at monotonic: Int64,
        wallNow: () -> (seconds: Int64, nanoseconds: Int64, monotonic: Int64)
    ) {
        if monotonic >= validUntil { reformat(wallNow()) }
    }

    @inline(never)
    private mutating func reformat(_ wall: (seconds: Int64, nanoseconds: Int64, monotonic: Int64)) {
        validUntil = wall.monotonic + 1_000_000_000 - wall.nanoseconds
        line = Array("Date: \(HTTPDate.string(secondsSinceEpoch: wall.seconds))\r\n".utf8)
    }

    /// The clocks now, for ``line(at:wallNow:)``.
    static func clocks() -> (seconds: Int64, nanoseconds: Int64, monotonic: Int64) {
        let wall = WallClock.now()
        return (wall.seconds, wall.nanoseconds, MonotonicClock.nanoseconds())
    }
}
