//! The `assert` step's expression language: small and safe on purpose (no
//! function calls, no loops, nothing that touches the system).
//!
//! ```text
//! or    := and ("or" | "||") and ...
//! and   := not ("and" | "&&") not ...
//! not   := ("not" | "!") not | cmp
//! cmp   := sum [("==" | "!=" | "<" | "<=" | ">" | ">=") sum]
//! sum   := prod (("+" | "-") prod)...
//! prod  := unary (("*" | "/") unary)...
//! unary := "-" unary | number | string | true | false | null | steps.ID.FIELD[.FIELD...] | "(" or ")"
//! ```

use crate::refs::{Outputs, lookup};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Value),
    /// `steps.ID.a.b`
    Path {
        step: String,
        path: Vec<String>,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
            // Exponent: 1e-3
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                i += 1;
                if i < chars.len() && (chars[i] == '-' || chars[i] == '+') {
                    i += 1;
                }
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let text: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
            out.push(Tok::Num(text.parse().map_err(|_| format!("bad number `{text}`"))?));
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string".into()),
                    Some(&q) if q == c => break,
                    Some('\\') => {
                        i += 1;
                        match chars.get(i) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(&x) => s.push(x),
                            None => return Err("unterminated string".into()),
                        }
                    }
                    Some(&x) => s.push(x),
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["==", "!=", "<=", ">=", "&&", "||"]
                .into_iter()
                .find(|o| *o == two)
                .or_else(|| {
                    ["<", ">", "+", "-", "*", "/", "(", ")", "!"]
                        .into_iter()
                        .find(|o| o.starts_with(c))
                })
                .ok_or_else(|| format!("unexpected character `{c}`"))?;
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_op(&self, ops: &[&str]) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(o)) if ops.contains(o) => Some(o),
            Some(Tok::Ident(w)) if ops.contains(&w.as_str()) => {
                ["and", "or", "not"].into_iter().find(|k| k == w)
            }
            _ => None,
        }
    }

    fn bin(
        &mut self,
        ops: &[(&str, Op)],
        next: fn(&mut Self) -> Result<Expr, String>,
    ) -> Result<Expr, String> {
        let mut lhs = next(self)?;
        let names: Vec<&str> = ops.iter().map(|(n, _)| *n).collect();
        while let Some(o) = self.peek_op(&names) {
            self.pos += 1;
            let op = ops.iter().find(|(n, _)| *n == o).map(|(_, op)| *op).expect("listed");
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(next(self)?));
        }
        Ok(lhs)
    }

    fn or(&mut self) -> Result<Expr, String> {
        self.bin(&[("or", Op::Or), ("||", Op::Or)], Self::and)
    }

    fn and(&mut self) -> Result<Expr, String> {
        self.bin(&[("and", Op::And), ("&&", Op::And)], Self::not)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek_op(&["not", "!"]).is_some() {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, String> {
        let ops = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let lhs = self.sum()?;
        let names: Vec<&str> = ops.iter().map(|(n, _)| *n).collect();
        if let Some(o) = self.peek_op(&names) {
            self.pos += 1;
            let op = ops.iter().find(|(n, _)| *n == o).map(|(_, op)| *op).expect("listed");
            let rhs = self.sum()?;
            if self.peek_op(&names).is_some() {
                return Err("comparisons do not chain; use `and` (a < b and b < c)".into());
            }
            return Ok(Expr::Bin(op, Box::new(lhs), Box::new(rhs)));
        }
        Ok(lhs)
    }

    fn sum(&mut self) -> Result<Expr, String> {
        self.bin(&[("+", Op::Add), ("-", Op::Sub)], Self::prod)
    }

    fn prod(&mut self) -> Result<Expr, String> {
        self.bin(&[("*", Op::Mul), ("/", Op::Div)], Self::unary)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        let tok = self.toks.get(self.pos).cloned().ok_or("expression ends too early")?;
        self.pos += 1;
        match tok {
            Tok::Op("-") => Ok(Expr::Neg(Box::new(self.unary()?))),
            Tok::Op("(") => {
                let e = self.or()?;
                match self.toks.get(self.pos) {
                    Some(Tok::Op(")")) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    _ => Err("missing `)`".into()),
                }
            }
            Tok::Num(n) => Ok(Expr::Lit(num(n))),
            Tok::Str(s) => Ok(Expr::Lit(Value::String(s))),
            Tok::Ident(w) => match w.as_str() {
                "true" => Ok(Expr::Lit(Value::Bool(true))),
                "false" => Ok(Expr::Lit(Value::Bool(false))),
                "null" => Ok(Expr::Lit(Value::Null)),
                _ => match crate::refs::parse_path(&w) {
                    Some((step, path)) => Ok(Expr::Path { step, path }),
                    None => Err(format!(
                        "unknown name `{w}`; expressions use steps.ID.FIELD, numbers, 'strings', true/false/null, and/or/not"
                    )),
                },
            },
            Tok::Op(o) => Err(format!("unexpected `{o}`")),
        }
    }
}

/// Parses an expression; errors say what was unexpected.
pub fn parse(src: &str) -> Result<Expr, String> {
    let mut p = Parser { toks: tokenize(src)?, pos: 0 };
    if p.toks.is_empty() {
        return Err("empty expression".into());
    }
    let e = p.or()?;
    if let Some(t) = p.toks.get(p.pos) {
        return Err(format!("unexpected {} after a complete expression", describe(t)));
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => format!("number {n}"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Ident(w) => format!("`{w}`"),
        Tok::Op(o) => format!("`{o}`"),
    }
}

fn num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

impl Expr {
    /// Every `steps.ID.FIELD` path in the expression.
    pub fn paths(&self) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<(String, Vec<String>)>) {
        match self {
            Expr::Lit(_) => {}
            Expr::Path { step, path } => out.push((step.clone(), path.clone())),
            Expr::Not(e) | Expr::Neg(e) => e.collect(out),
            Expr::Bin(_, a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }

    pub fn eval(&self, outputs: &Outputs) -> Result<Value, String> {
        match self {
            Expr::Lit(v) => Ok(v.clone()),
            Expr::Path { step, path } => lookup(outputs, step, path).cloned(),
            Expr::Not(e) => Ok(Value::Bool(!as_bool(&e.eval(outputs)?, "not")?)),
            Expr::Neg(e) => match e.eval(outputs)? {
                Value::Number(n) => Ok(num(-n.as_f64().unwrap_or(f64::NAN))),
                v => Err(format!("cannot negate a {}", type_name(&v))),
            },
            Expr::Bin(Op::And, a, b) => Ok(Value::Bool(
                as_bool(&a.eval(outputs)?, "and")? && as_bool(&b.eval(outputs)?, "and")?,
            )),
            Expr::Bin(Op::Or, a, b) => Ok(Value::Bool(
                as_bool(&a.eval(outputs)?, "or")? || as_bool(&b.eval(outputs)?, "or")?,
            )),
            Expr::Bin(op, a, b) => binary(*op, a.eval(outputs)?, b.eval(outputs)?),
        }
    }
}

fn as_bool(v: &Value, op: &str) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| format!("`{op}` needs true/false, got {} {v}", type_name(v)))
}

fn binary(op: Op, a: Value, b: Value) -> Result<Value, String> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (&a, &b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().zip(y.as_f64()).and_then(|(x, y)| x.partial_cmp(&y))
        }
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    let cmp_err = || format!("cannot compare {} {a} with {} {b}", type_name(&a), type_name(&b));
    match op {
        // Different types are simply unequal; ordering them is an error.
        Op::Eq => Ok(Value::Bool(ord == Some(Ordering::Equal) || (ord.is_none() && a == b))),
        Op::Ne => Ok(Value::Bool(!(ord == Some(Ordering::Equal) || (ord.is_none() && a == b)))),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            if matches!(a, Value::Bool(_) | Value::Null) {
                return Err(cmp_err());
            }
            let o = ord.ok_or_else(cmp_err)?;
            Ok(Value::Bool(match op {
                Op::Lt => o == Ordering::Less,
                Op::Le => o != Ordering::Greater,
                Op::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div => match (&a, &b) {
            (Value::String(x), Value::String(y)) if op == Op::Add => {
                Ok(Value::String(format!("{x}{y}")))
            }
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                Ok(num(match op {
                    Op::Add => x + y,
                    Op::Sub => x - y,
                    Op::Mul => x * y,
                    _ if y == 0.0 => return Err("division by zero".into()),
                    _ => x / y,
                }))
            }
            _ => Err(format!(
                "arithmetic needs numbers, got {} {a} and {} {b}",
                type_name(&a),
                type_name(&b)
            )),
        },
        Op::And | Op::Or => unreachable!("handled with short-circuit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outputs() -> Outputs {
        let mut o = Outputs::new();
        o.insert("v".into(), json!({"recall": 0.97, "records": 100, "ok": true, "name": "docs", "per": {"docs": {"recall": 0.5}}}).as_object().unwrap().clone());
        o.insert("b".into(), json!({"records": 100}).as_object().unwrap().clone());
        o
    }

    fn ev(s: &str) -> Result<Value, String> {
        parse(s)?.eval(&outputs())
    }

    #[test]
    fn evaluates() {
        let yes = [
            "steps.v.recall >= 0.95",
            "steps.v.records == steps.b.records",
            "steps.v.ok and not (steps.v.recall < 0.5)",
            "steps.v.ok && !false || false",
            "1 + 2 * 3 == 7",
            "(1 + 2) * 3 == 9",
            "10 / 4 == 2.5",
            "-steps.v.records < 0",
            "steps.v.name == 'docs' and steps.v.name != \"other\"",
            "'a' + 'b' == 'ab'",
            "steps.v.per.docs.recall == 0.5",
            "steps.v.records - steps.b.records <= 0",
            "1e3 == 1000",
            "1 == '1' == false or true",
        ];
        for e in yes.iter().take(yes.len() - 1) {
            assert_eq!(ev(e), Ok(json!(true)), "{e}");
        }
        assert_eq!(ev("1 == 'x'"), Ok(json!(false)), "different types are unequal");
        assert_eq!(ev("steps.v.records * 2"), Ok(json!(200)));
        assert!(parse(yes[yes.len() - 1]).unwrap_err().contains("do not chain"));
    }

    #[test]
    fn errors_name_what_exists() {
        let e = ev("steps.x.recall > 1").unwrap_err();
        assert!(e.contains("`x`") && e.contains("b, v"), "{e}");
        let e = ev("steps.v.recal > 1").unwrap_err();
        assert!(e.contains("`recal`") && e.contains("ok, per, recall, records"), "{e}");
        assert!(ev("steps.v.per.docs.x == 1").unwrap_err().contains("steps.v.per.docs"));
        assert!(ev("1 / 0").unwrap_err().contains("division by zero"));
        assert!(ev("'a' < 1").unwrap_err().contains("cannot compare"));
        assert!(ev("1 and true").unwrap_err().contains("true/false"));
        assert!(parse("recall > 1").unwrap_err().contains("unknown name `recall`"));
        assert!(parse("1 +").is_err());
        assert!(parse("(1").unwrap_err().contains("`)`"));
        assert!(parse("1 2").unwrap_err().contains("after a complete expression"));
        assert!(parse("'abc").unwrap_err().contains("unterminated"));
        assert!(parse("1 $ 2").unwrap_err().contains("`$`"));
    }

    #[test]
    fn short_circuits() {
        assert_eq!(ev("false and steps.nope.x"), Ok(json!(false)));
        assert_eq!(ev("true or steps.nope.x"), Ok(json!(true)));
    }
}
