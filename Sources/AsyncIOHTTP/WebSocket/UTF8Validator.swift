/// Incremental UTF-8 validation (Björn Höhrmann's DFA): bytes may arrive split anywhere, across
/// frames of one message, and an invalid sequence is seen at its first impossible byte, as RFC 6455
/// §8.1 wants for text messages ("fail fast").
struct UTF8Validator {
    private var state: UInt8 = 0

    /// Whether everything seen so far ends on a character boundary.
    var isComplete: Bool { state == 0 }

    /// Feeds `bytes`; false as soon as they cannot be (the start of) valid UTF-8.
    mutating func feed(_ bytes: some Collection<UInt8>) -> Bool {
        var state = self.state
        for byte in bytes {
            // ASCII between characters: the common case, no table lookups.
            if state == 0 && byte < 0x80 { continue }
            state = Self.transitions[Int(state) * 16 + Int(Self.classes[Int(byte)])]
            if state == 1 { break }
        }
        self.state = state
        return state != 1
    }

    /// The byte classes of the DFA.
    private static let classes: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for b in 0x80...0x8F { table[b] = 1 }
        for b in 0x90...0x9F { table[b] = 9 }
        for b in 0xA0...0xBF { table[b] = 7 }
        for b in 0xC0...0xC1 { table[b] = 8 }
        for b in 0xC2...0xDF { table[b] = 2 }
        table[0xE0] = 10
        for b in 0xE1...0xEC { table[b] = 3 }
        table[0xED] = 4
        for b in 0xEE...0xEF { table[b] = 3 }
        table[0xF0] = 11
        for b in 0xF1...0xF3 { table[b] = 6 }
        table[0xF4] = 5
        for b in 0xF5...0xFF { table[b] = 8 }
        return table
    }()

    /// State × class → state; 0 accepts, 1 rejects. States: 0 start, 1 reject, 2 one continuation
    /// byte to go, 3 two to go, 4 after E0 (A0–BF next), 5 after ED (80–9F next), 6 after F0 (90–BF
    /// next), 7 three to go, 8 after F4 (80–8F next).
    private static let transitions: [UInt8] = {
        var table = [UInt8](repeating: 1, count: 9 * 16)
        func set(_ state: Int, _ classes: [Int], _ next: UInt8) { for c in classes { table[state * 16 + c] = next } }
        set(0, [0], 0)
        set(0, [2], 2)
        set(0, [3], 3)
        set(0, [10], 4)
        set(0, [4], 5)
        set(0, [11], 6)
        set(0, [6], 7)
        set(0, [5], 8)
        set(2, [1, 9, 7], 0)
        set(3, [1, 9, 7], 2)
        set(4, [7], 2)
        set(5, [1, 9], 2)
        set(6, [9, 7], 3)
        set(7, [1, 9, 7], 3)
        set(8, [1], 3)
        return table
    }()
}
