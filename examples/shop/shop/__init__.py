"""A small order-and-payment service: products, orders, payments, stock and sign-in."""
