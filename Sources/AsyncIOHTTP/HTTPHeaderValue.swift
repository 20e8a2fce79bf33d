/// Small pieces of header-value syntax (RFC 9110 §5.6) the library's parsers share.
enum HTTPHeaderValue {
    /// The value of parameter `name` (case-insensitive) in `value`'s `; name=value` list, without
    /// quotes; nil if absent.
    static func parameter(_ name: String, in value: String) -> Substring? {
        for parameter in value.split(separator: ";").dropFirst() {
            guard let equals = parameter.firstIndex(of: "=") else { continue }
            guard parameter[..<equals].trimmingSpaces.lowercased() == name else { continue }
            return parameter[parameter.index(after: equals)...].trimmingSpaces.unquoted
        }
        return nil
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: Substring {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}

extension Substring {
    /// Without one pair of surrounding double quotes, if it has them.
    var unquoted: Substring {
        count >= 2 && first == "\"" && last == "\"" ? dropFirst().dropLast() : self
    }
}
